import { ConfigError, formatDiagnostic, type Diagnostic } from '@dlexp/core';
import { openExperiment } from '@dlexp/train';
import { displayPath, EXIT, experimentArguments, openOptions, userPath, type Command } from '../cli/context';
import { EXPERIMENT_OPTIONS } from '../cli/options';
import { validateSweep } from '@dlexp/host';

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
      const warnings: string[] = [];
      // The quick variant is checked too: CI runs every experiment with --quick.
      for (const quick of given.quick ? [true] : [false, true]) {
        try {
          const open = openOptions({ ...given, quick }, file);
          const experiment = await openExperiment(userPath(file), registries, open);
          // The sweep block at its lines, and the trials it can propose validated as experiments.
          if (experiment.resolved.sweep !== undefined) {
            for (const warning of validateSweep(experiment, registries, userPath(file), open)) if (!warnings.includes(warning)) warnings.push(warning);
          }
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          for (const d of error.diagnostics) {
            if (!found.some((f) => formatDiagnostic(f) === formatDiagnostic(d))) found.push(d);
          }
        }
      }
      for (const warning of warnings) io.err(warning);
      if (found.length === 0) io.out(`${displayPath(file)}: ok${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}`);
      problems.push(...found);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return EXIT.ok;
  },
};
