import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The git commit of the checkout the runner runs from, when it is one ('-dirty' if changed). */
function gitCommit(): string | undefined {
  try {
    const options = { cwd: new URL('.', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'], timeout: 5000 };
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], options).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], options).toString().trim() !== '';
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return undefined;
  }
}

/** Versions recorded in every summary.json, so a result can be traced to what produced it. */
export function collectVersions(): Record<string, string> {
  const runner = (require('../../package.json') as { version: string }).version;
  const versions: Record<string, string> = { dlexp: runner, node: process.versions.node, tfjs: tf.version.tfjs };
  const commit = gitCommit();
  if (commit !== undefined) versions['gitCommit'] = commit;
  return versions;
}
