import { stringify } from 'yaml';
import type { Invocation } from '../invocation';
import { writeFolder } from '../storage/files';
import type { RunDirectory } from '../storage/run-directory';
import type { RunSink } from './sink';

/**
 * The sink that writes a run's folder: config.resolved.yaml, invocation.json and graph.json at the
 * start, one metrics.jsonl line per logged row, and at the end the model, the model's extra files
 * and summary.json, written last and atomically (its presence is what marks a finished run).
 */
export function createRunDirectorySink(directory: RunDirectory, options: { invocation: Omit<Invocation, 'configHash'>; argv: string[] }): RunSink {
  return {
    start: (run) => {
      if (run.firstStep > 0 || run.loggedRows > 0 || directory.exists('invocation.json')) {
        // A resumed segment: keep what was logged up to the checkpoint, drop what came after it.
        directory.truncateMetrics(run.loggedRows);
        return;
      }
      const { experiment, configHash } = run;
      const config = experiment.resolved;
      const startedWith = options.argv.length > 0 ? ` with ${options.argv.join(' ')}` : '';
      directory.write('config.resolved.yaml', `# ${config.name}: resolved from ${experiment.source.file}${startedWith}\n# config hash ${configHash}\n${stringify(config)}`);
      directory.write('metrics.jsonl', '');
      directory.write('graph.json', `${JSON.stringify(run.graphDef)}\n`);
      const invocation: Invocation = { ...options.invocation, configHash };
      directory.write('invocation.json', `${JSON.stringify(invocation, null, 2)}\n`);
    },
    row: (row) => directory.appendMetrics(row),
    end: (end) => {
      if (end.model !== undefined) writeFolder(directory.file('model'), end.model);
      for (const [name, content] of end.files) directory.write(name, content);
      directory.write('summary.json', `${JSON.stringify(end.summary, null, 2)}\n`);
    },
  };
}
