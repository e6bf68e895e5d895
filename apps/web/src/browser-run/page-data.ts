import { join } from 'pathe';
import type { LoadedExperiment } from '@dlexp/config';
import { FASHION_MNIST_DIR, mnistDirectory } from '@dlexp/data';
import { fetchDatasetFile, fetchDatasets } from '../api';
import { hasVirtualFile, writeVirtualFile } from '../node-shims/virtual-files';

/**
 * Puts the files an experiment's dataset reads where the data library will look for them in the
 * page's virtual file table: MNIST and Fashion-MNIST fetched from the dashboard server (once per
 * page), CSV and IDX files from what was dropped on the page. Synthetic data needs nothing.
 */

/** Where the page keeps the experiment and the files dropped beside it: relative paths in the YAML resolve here. */
export const PAGE_FOLDER = '/experiments';

/** Datasets whose files the page fetches from the server, and the folder the data library reads them from. */
function serverFolder(experiment: LoadedExperiment): { dataset: string; dir: string } | undefined {
  const data = experiment.resolved.data;
  if (data.type === 'mnist') return { dataset: 'mnist', dir: mnistDirectory() };
  if (data.type === 'fashion-mnist' && data['dir'] === FASHION_MNIST_DIR) return { dataset: 'fashion-mnist', dir: FASHION_MNIST_DIR };
  return undefined;
}

/** Datasets that read files the page cannot have (TFRecord streams, image folders) or draw with a native canvas. */
const NOT_IN_A_PAGE: Record<string, string> = {
  tfrecord: 'TFRecord files are read in pieces from disk',
  imageFolder: 'images are decoded by a native library',
  captcha: 'captchas are drawn by a native canvas',
};

export async function provideDataFiles(experiment: LoadedExperiment, log: (line: string) => void): Promise<void> {
  const type = experiment.resolved.data.type;
  const reason = NOT_IN_A_PAGE[type];
  if (reason !== undefined) throw new Error(`data: ${type} does not run in a browser (${reason}); use "Run on this machine"`);
  const fromServer = serverFolder(experiment);
  if (fromServer === undefined) return;
  const listed = (await fetchDatasets()).find((d) => d.name === fromServer.dataset);
  if (listed === undefined || listed.files.length === 0) throw new Error(`data: the server has no ${fromServer.dataset} files to send`);
  const missing = listed.files.filter((file) => !hasVirtualFile(join(fromServer.dir, file)));
  if (missing.length === 0) return;
  log(`fetching ${fromServer.dataset} from the server (${missing.length} files)`);
  const started = performance.now();
  let bytes = 0;
  await Promise.all(
    missing.map(async (file) => {
      const content = await fetchDatasetFile(fromServer.dataset, file);
      bytes += content.byteLength;
      writeVirtualFile(join(fromServer.dir, file), content);
    }),
  );
  log(`fetched ${(bytes / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** A file dropped on the page, kept beside the experiment so `file: data.csv` finds it. */
export function addPageFile(name: string, content: Uint8Array): string {
  const path = join(PAGE_FOLDER, name.replace(/[/\\]/g, '_'));
  writeVirtualFile(path, content);
  return path;
}
