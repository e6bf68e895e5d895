#!/usr/bin/env node
// How an experiment's Nx target runs the runner:  node run-target.js RUNNER_SCRIPT [runner arguments]
// - The run directory (--out) and the JUnit file (--junit) are fixed per target, and the runner
//   refuses a non-empty --out: both are removed first. Only paths under the workspace's runs/
//   folder are ever removed; anything else is passed on untouched (and the runner decides).
// - The runner resolves paths against INIT_CWD (the folder `npx` was started from); a target
//   runs from the workspace root whatever folder Nx was started from, so INIT_CWD is set to it.
// - DLEXP_BACKEND, when set, becomes --backend (first, so a --backend given to the target wins).
// - The runner's exit code is this script's.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { constants } from 'node:os';
import { pathToFileURL } from 'node:url';

/**
 * The value of the last `--name VALUE` or `--name=VALUE` (the one the runner will use).
 * @param {string[]} args
 * @param {string} name
 * @returns {string | undefined}
 */
export function lastOption(args, name) {
  let value;
  for (let i = 0; i < args.length; i++) {
    const arg = /** @type {string} */ (args[i]);
    if (arg === `--${name}` && i + 1 < args.length) value = args[++i];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

/**
 * Whether `path` lies strictly inside `<workspace>/runs/`, the runner's own git-ignored folder.
 * @param {string} workspaceRoot
 * @param {string} path
 */
export function isUnderRuns(workspaceRoot, path) {
  const fromRuns = relative(resolve(workspaceRoot, 'runs'), resolve(workspaceRoot, path));
  return fromRuns !== '' && fromRuns !== '..' && !fromRuns.startsWith(`..${sep}`) && !isAbsolute(fromRuns);
}

/**
 * The runner's arguments with the backend from the environment in front.
 * @param {string[]} args
 * @param {Record<string, string | undefined>} environment
 */
export function runnerArguments(args, environment) {
  const backend = environment.DLEXP_BACKEND;
  return backend !== undefined && backend !== '' ? ['--backend', backend, ...args] : args;
}

function main() {
  /** @type {(string | undefined)[]} */
  const [runner, ...rest] = process.argv.slice(2);
  const args = /** @type {string[]} */ (rest);
  if (runner === undefined) {
    console.error('usage: run-target.js RUNNER_SCRIPT [runner arguments]');
    return Promise.resolve(2);
  }
  const workspaceRoot = process.cwd();
  for (const name of ['out', 'junit']) {
    const path = lastOption(args, name);
    if (path !== undefined && isUnderRuns(workspaceRoot, path)) rmSync(resolve(workspaceRoot, path), { recursive: true, force: true });
  }
  const child = spawn(process.execPath, [resolve(workspaceRoot, runner), ...runnerArguments(args, process.env)], {
    stdio: 'inherit',
    env: { ...process.env, INIT_CWD: workspaceRoot },
  });
  // Ctrl-C reaches the runner from the terminal itself (it saves a checkpoint, then exits 130;
  // a second SIGINT would stop it at once, so none is forwarded). SIGTERM, from Nx stopping the
  // task, is passed on.
  process.on('SIGINT', () => {});
  for (const signal of /** @type {const} */ (['SIGTERM', 'SIGHUP'])) process.on(signal, () => child.kill(signal));
  return new Promise((/** @type {(code: number) => void} */ done) => {
    child.on('error', (error) => {
      console.error(`could not start the runner: ${error.message}`);
      done(70);
    });
    child.on('close', (code, signal) => done(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
