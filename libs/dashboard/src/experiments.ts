import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentSource } from '@dlexp/config';
import type { DatasetEntry, ExperimentEntry } from './api';
import { NotServedError } from './logdir';

/** An experiment file name the server serves: one plain name ending in .yaml or .yml, no folders. */
const EXPERIMENT_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/;

/** The experiment files directly in `dir` (the examples the editor opens), with their names and descriptions. */
export function listExperiments(dir: string): ExperimentEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && EXPERIMENT_FILE.test(e.name))
    .map((e) => e.name)
    .sort()
    .map((file) => {
      const entry: ExperimentEntry = { file, name: file.replace(/\.ya?ml$/, '') };
      try {
        const data = ExperimentSource.parse(readFileSync(join(dir, file), 'utf8'), file).toData();
        if (typeof data['name'] === 'string') entry.name = data['name'];
        if (typeof data['description'] === 'string') entry.description = data['description'];
      } catch {
        // An experiment that does not parse is still listed: the editor shows its problems.
      }
      return entry;
    });
}

/** The text of one listed experiment; any other name is not served. */
export function readExperiment(dir: string | undefined, file: string): string {
  if (dir === undefined || !EXPERIMENT_FILE.test(file) || !listExperiments(dir).some((e) => e.file === file)) {
    throw new NotServedError(`${file}: no such experiment`);
  }
  return readFileSync(join(dir, file), 'utf8');
}

/** The files of an IDX dataset a page may fetch: the four standard names, plain or gzip-compressed. */
export const IDX_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].flatMap((f) => [f, `${f}.gz`]);

/** Each dataset folder the server was given, with the standard files it holds. */
export function listDatasets(datasets: Record<string, string>): DatasetEntry[] {
  return Object.entries(datasets).map(([name, dir]) => ({ name, files: IDX_FILES.filter((f) => existsSync(join(dir, f))) }));
}

/** The path of one standard file of a given dataset; anything else is not served. */
export function datasetFile(datasets: Record<string, string>, name: string, file: string): string {
  const dir = Object.hasOwn(datasets, name) ? datasets[name] : undefined;
  if (dir === undefined || !IDX_FILES.includes(file) || !existsSync(join(dir, file))) throw new NotServedError(`${name}/${file}: no such dataset file`);
  return join(dir, file);
}
