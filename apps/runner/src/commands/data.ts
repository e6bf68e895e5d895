import Table from 'cli-table3';
import { ConfigError } from '@dlexp/core';
import { inspectTFRecord, writeSplitToTFRecord, type DataSplit } from '@dlexp/data';
import { loadData, openExperiment } from '@dlexp/train';
import { EXIT, experimentArguments, openOptions, userPath, type Command } from '../cli/context';
import { EXPERIMENT_OPTIONS, stringOption } from '../cli/options';

export const dataCommand: Command = {
  name: 'data',
  usage: [
    ['data export <file.yaml> --split NAME --out FILE.tfrecord', 'write a dataset split as TFRecord'],
    ['data inspect FILE.tfrecord', 'count the records and list the features'],
  ],
  options: {
    ...EXPERIMENT_OPTIONS,
    split: { type: 'string', arg: 'NAME', help: 'the split to export (default train)' },
    out: { type: 'string', arg: 'FILE', help: 'the TFRecord file to write' },
  },
  async run(rest, values, { io, registries }) {
    const [action, ...files] = rest;
    if (action === 'export') {
      const out = stringOption(values, 'out');
      if (files.length !== 1 || out === undefined) throw new ConfigError('usage: runner data export <experiment.yaml> --split NAME --out FILE.tfrecord');
      const file = files[0]!;
      const experiment = await openExperiment(userPath(file), registries, openOptions(experimentArguments(values), file));
      const dataset = await loadData(experiment, registries);
      const splitName = stringOption(values, 'split') ?? 'train';
      const split = (dataset.splits as Partial<Record<string, DataSplit>>)[splitName];
      if (split === undefined) throw new ConfigError(`the dataset has no '${splitName}' split (it has: ${Object.keys(dataset.splits).join(', ')})`);
      const records = await writeSplitToTFRecord(split, userPath(out));
      io.out(`wrote ${records} records of the ${splitName} split to ${out}`);
      return EXIT.ok;
    }
    if (action === 'inspect') {
      if (files.length !== 1) throw new ConfigError('usage: runner data inspect FILE.tfrecord');
      const report = await inspectTFRecord(userPath(files[0]!));
      io.out(`records: ${report.records}`);
      const table = new Table({ head: ['feature', 'type', 'length'], style: { head: [], border: [] } });
      for (const f of report.features) table.push([f.key, f.kind, f.lengths.min === f.lengths.max ? String(f.lengths.min) : `${f.lengths.min}–${f.lengths.max}`]);
      io.out(table.toString());
      return EXIT.ok;
    }
    throw new ConfigError(`unknown data command '${action ?? ''}': expected export or inspect`);
  },
};
