/**
 * Starting the wasm backend's multi-threaded SIMD build in Node.
 *
 * The build's Emscripten glue runs its pthreads as Node worker_threads, but TF.js hands it two
 * scripts as `blob:` URLs: the worker script (via locateFile) and the main script (as
 * `mainScriptUrlOrBlob`, which each worker loads). Node's Worker rejects a `blob:` URL
 * (ERR_WORKER_PATH) and the worker's `importScripts` reads files, so neither loads as shipped.
 *
 * While the backend initialises, this module records the text of the Blobs TF.js creates (their
 * parts are strings, readable synchronously at construction) and makes URL.createObjectURL hand
 * back a temporary file holding that text instead. The worker file gets a short prologue that
 * swaps the main-script Blob in the worker's 'load' message for the file path. Nothing in
 * node_modules changes, and the hooks are removed once the backend is up.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exported } from './load';

const MAIN_SCRIPT_MARK = 'var WasmBackendModuleThreadedSimd';

/**
 * The main script is the factory function's source text, which in the package's Node bundle
 * refers to names defined elsewhere in that bundle and absent in a worker: Node modules under the
 * bundler's names (`var require$$0 = require('fs')`), `commonjsGlobal`, and inlined tslib helpers
 * (`__values`, ...). This prologue defines them: the module names read from the bundle's own
 * declarations, the helpers from the tslib package (the same code the bundle inlines).
 */
function mainScriptPrologue(bundleFile: string, factorySource: string): string {
  const bundle = readFileSync(bundleFile, 'utf8');
  const lines = ['var commonjsGlobal = globalThis;'];
  for (const [, name, module] of bundle.matchAll(/^var (require\$\$\d+) = require\('([\w:/-]+)'\);?$/gm)) {
    lines.push(`var ${name} = require(${JSON.stringify(module)});`);
  }
  const helpers = new Set(factorySource.match(/\b__(?:values|read|spreadArray|assign|awaiter|generator|extends|spread|rest)\b/g) ?? []);
  if (helpers.size > 0) {
    const tslib = localRequire.resolve('tslib');
    lines.push(`var __tslib = require(${JSON.stringify(tslib)});`);
    for (const helper of helpers) lines.push(`var ${helper} = __tslib.${helper};`);
  }
  return `${lines.join('\n')}\n`;
}

const localRequire = createRequire(import.meta.url);

/** Writes through a temporary name, so a process starting at the same time never reads half a script. */
function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

export interface ThreadedWasmResult {
  /** Threads XNNPACK reports using (1 when the single-threaded build runs). */
  threads: number;
  /** Where the scripts were written (a cache shared by every process of the same package build). */
  scriptDir: string;
}

/**
 * Initialises the 'wasm' backend with the multi-threaded SIMD binary. Call instead of
 * tf.setBackend('wasm') the first time (the build is chosen once per process), after the wasm
 * paths are set. `threads` is XNNPACK's thread-pool size (default: the number of cores).
 */
export async function initThreadedWasm(
  wasmModule: Record<string, unknown>,
  bundleFile: string,
  threads?: number,
): Promise<ThreadedWasmResult> {
  if (tf.engine().registry['wasm'] !== undefined) throw new Error('the wasm backend is already initialised; the threaded build must be chosen before');
  // The scripts depend only on the installed package, so they go to a folder named after its bundle:
  // every process of the same build reuses it, and nothing needs removing when a process ends.
  const bundleHash = createHash('sha256').update(readFileSync(bundleFile)).digest('hex').slice(0, 16);
  const scriptDir = path.join(os.tmpdir(), `dlexp-tfjs-wasm-threads-${bundleHash}`);
  mkdirSync(scriptDir, { recursive: true });
  const mainScript = path.join(scriptDir, 'main.cjs');
  const texts = new WeakMap<Blob, string>();
  const OriginalBlob = globalThis.Blob;
  const originalCreateObjectURL = URL.createObjectURL.bind(URL);
  let files = 0;

  class RecordingBlob extends OriginalBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const [parts] = args;
      if (parts !== undefined && parts.every((p) => typeof p === 'string')) {
        const text = parts.join('');
        texts.set(this, text);
        // The main script goes to a fixed path the worker prologue names.
        if (text.startsWith(MAIN_SCRIPT_MARK)) writeWhole(mainScript, mainScriptPrologue(bundleFile, text) + text);
      }
    }
  }

  const createObjectURL = (object: Blob): string => {
    const text = texts.get(object);
    if (text === undefined) return originalCreateObjectURL(object);
    const file = path.join(scriptDir, `worker-${files++}.cjs`);
    const prologue =
      `// Written by the runner: load the main script from a file, not a blob: URL.\n` +
      `{ const wt = require('worker_threads'); const on = wt.parentPort.on.bind(wt.parentPort);\n` +
      `  wt.parentPort.on = (event, listener) => on(event, event !== 'message' ? listener : (data) => {\n` +
      `    if (data && data.cmd === 'load' && typeof data.urlOrBlob !== 'string') data.urlOrBlob = ${JSON.stringify(mainScript)};\n` +
      `    listener(data); }); }\n`;
    writeWhole(file, prologue + text);
    return file;
  };

  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const cores = os.cpus().length;
  const setThreadsCount = exported(wasmModule, 'setThreadsCount') as ((n: number) => void) | undefined;
  const getThreadsCount = exported(wasmModule, 'getThreadsCount') as (() => number) | undefined;
  setThreadsCount?.(threads ?? cores);
  // The backend caps its thread pool at half the logical cores it is told about (it assumes two
  // hardware threads per core), and asks through os.cpus() in Node: on a 2-vCPU machine that
  // means one thread. Report twice the cores while it initialises so the cap is the real count.
  const originalCpus = os.cpus;
  os.cpus = () => {
    const real = originalCpus();
    return [...real, ...real];
  };
  globalThis.Blob = RecordingBlob;
  URL.createObjectURL = createObjectURL;
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('the multi-threaded wasm backend failed to initialise');
  } finally {
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
    os.cpus = originalCpus;
  }
  return { threads: getThreadsCount?.() ?? 1, scriptDir };
}
