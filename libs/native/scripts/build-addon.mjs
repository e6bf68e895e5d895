#!/usr/bin/env node
/**
 * Builds the native addon with node-gyp (the copy npm ships, so nothing is downloaded).
 *
 *   node scripts/build-addon.mjs             build, or fail with the reason (npm run build:addon)
 *   node scripts/build-addon.mjs --optional  the install step: when the compiler or oneDNN is
 *                                            missing, say so and succeed, so that installing the
 *                                            workspace never fails because of this addon
 *
 * Whatever node-gyp printed is kept in build/install-build.log; the library quotes its first
 * error when it reports itself unavailable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const logFile = path.join(packageDir, 'build', 'install-build.log');
const optional = process.argv.includes('--optional');
const packages = 'g++ make python3 libdnnl-dev libopenblas-dev';
const fix = `apt-get install -y ${packages} (Debian/Ubuntu), then npm run build:addon -w @dlexp/native`;

function say(line) {
  process.stderr.write(`@dlexp/native: ${line}\n`);
}

function commandExists(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** The compiler finds oneDNN's header where the build will look for it. */
function hasOneDnnHeader() {
  const probe = spawnSync('c++', ['-x', 'c++', '-E', '-', '-o', '/dev/null'], { input: '#include <dnnl.hpp>\n', stdio: ['pipe', 'ignore', 'ignore'] });
  return probe.status === 0;
}

/** The linker finds a library (`-l<name>`). */
function canLink(name) {
  const probe = spawnSync('c++', ['-x', 'c++', '-', '-o', '/dev/null', `-l${name}`], { input: 'int main() { return 0; }\n', stdio: ['pipe', 'ignore', 'ignore'] });
  return probe.status === 0;
}

/** npm's own node-gyp: npm names it to lifecycle scripts; otherwise it sits beside npm. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

/** Node's headers as installed with Node itself, so node-gyp does not download them. */
function nodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function giveUp(reason) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  if (!existsSync(logFile)) writeFileSync(logFile, `${reason}\n`);
  if (optional) {
    say(`not built: ${reason}. The native backend stays unavailable until: ${fix}`);
    return;
  }
  say(`cannot build: ${reason}. Fix: ${fix}`);
  process.exitCode = 1;
}

function main() {
  if (process.platform !== 'linux') return giveUp(`the addon is built on Linux only (this is ${process.platform})`);
  for (const command of ['c++', 'make', 'python3']) {
    if (!commandExists(command)) return giveUp(`${command} not found`);
  }
  if (!hasOneDnnHeader() || !canLink('dnnl')) return giveUp('oneDNN not found (dnnl.hpp or libdnnl.so: No such file; the package libdnnl-dev provides them)');
  if (!canLink('openblas')) return giveUp('OpenBLAS not found (libopenblas.so: No such file; the package libopenblas-dev provides it)');
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined) return giveUp('node-gyp not found (it ships with npm)');
  const args = [nodeGyp, 'rebuild'];
  const headers = nodeDir();
  if (headers !== undefined) args.push(`--nodedir=${headers}`);
  say('building the addon (node-gyp, about a minute)...');
  const build = spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, `${build.stdout ?? ''}${build.stderr ?? ''}`);
  if (build.status !== 0) {
    const lines = `${build.stdout ?? ''}\n${build.stderr ?? ''}`.split('\n');
    const first = lines.find((l) => /error/i.test(l)) ?? `node-gyp exited with status ${build.status}`;
    return giveUp(`node-gyp failed: ${first.trim()} (full log: ${logFile})`);
  }
  say('built build/Release/dlexp_native.node');
}

main();
