import { ConfigError } from '@dlexp/core';
import { evaluateRun, metricsTable } from '@dlexp/train';
import { EXIT, type Command } from '../cli/context';
import { choiceOption, stringOption } from '../cli/options';
import { probeWebgpuAdapter } from '../cli/webgpu-probe';
import { reopenRun } from './run';

export const evaluateCommand: Command = {
  name: 'evaluate',
  usage: [
    ['evaluate <run-dir> [--split test] [--checkpoint best|last]', "restore a run's model and measure it on a split"],
  ],
  options: {
    split: { type: 'string', arg: 'NAME', help: 'the split to measure (default test)' },
    checkpoint: { type: 'string', arg: 'best|last', help: 'the model saved at the end (last, default) or the keepBest checkpoint' },
  },
  async run(dirs, values, { io, registries }) {
    if (dirs.length !== 1) throw new ConfigError('evaluate takes exactly one run directory');
    const { directory, experiment } = await reopenRun(dirs[0]!, registries);
    const checkpoint = choiceOption(values, 'checkpoint', ['best', 'last'] as const);
    const metrics = await evaluateRun(experiment, registries, directory, {
      split: stringOption(values, 'split') ?? 'test',
      ...(checkpoint !== undefined ? { checkpoint } : {}),
      log: io.out,
      backendOptions: { probeWebgpuAdapter },
    });
    io.out(metricsTable(metrics));
    return EXIT.ok;
  },
};
