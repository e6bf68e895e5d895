import { ConfigError, formatDiagnostic, type Diagnostic } from '@dlexp/core';
import { openExperiment } from '@dlexp/train';
import { displayPath, EXIT, experimentArguments, openOptions, userPath, type Command } from '../cli/context';
import { EXPERIMENT_OPTIONS } from '../cli/options';
import { loadSweepTrials } from '../sweep';

export const validateCommand: Command = {
  name: 'validate',
  usage: [
    ['validate <file.yaml>...', 'check experiments without running them (also their --quick variant)'],
  ],
  options: EXPERIMENT_OPTIONS,
  async run(files, values, { io, registries }) {
    if (files.length === 0) throw new ConfigError('validate needs at least one experiment file');
    const given = experimentArguments(values);
    const problems: Diagnostic[] = [];
    for (const file of files) {
      const found: Diagnostic[] = [];
      // The quick variant is checked too: CI runs every experiment with --quick.
      for (const quick of given.quick ? [true] : [false, true]) {
        try {
          const open = openOptions({ ...given, quick }, file);
          const experiment = await openExperiment(userPath(file), registries, open);
          // Each trial of a sweep is an experiment of its own: validate them all.
          if (experiment.resolved.sweep !== undefined) loadSweepTrials(experiment, registries, userPath(file), open);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          for (const d of error.diagnostics) {
            if (!found.some((f) => formatDiagnostic(f) === formatDiagnostic(d))) found.push(d);
          }
        }
      }
      if (found.length === 0) io.out(`${displayPath(file)}: ok`);
      problems.push(...found);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return EXIT.ok;
  },
};
