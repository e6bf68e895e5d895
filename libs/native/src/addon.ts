/**
 * Finding and loading the compiled addon, and saying exactly why it cannot be used when it
 * cannot: not built (no compiler or no oneDNN when npm installed the package), or built but
 * unable to load (a shared library missing at run time).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the addon reports about itself. */
export interface AddonInfo {
  onednn: string;
  /** The instruction set oneDNN's kernels use here, such as avx512_core. */
  isa: string;
  /** The instruction set of the addon's own loops (elementwise, pooling): avx512, avx2 or baseline. */
  loops: string;
  openmp: string;
  processors: number;
  threads: number;
}

/** What the addon holds between calls. */
export interface NativeMemoryStats {
  workspaceBytes: number;
  convolutionPlans: number;
  /** What each convolution plan runs, such as "forward brgconv:avx512_core (NHWC)". */
  convolutionImplementations: string[];
}

/**
 * The addon's functions. Kernels take the wasm heap (HEAPU8) and one Float64Array of heap byte
 * offsets and sizes (layouts in addon/*.cc); they read their inputs from the heap and write their
 * results into it.
 */
export interface NativeAddon {
  info(): AddonInfo;
  setThreads(threads: number): void;
  memoryStats(): NativeMemoryStats;
  release(): void;
  /** GFLOP/s of multiply-adds per thread, each thread timed by its own processor time. */
  measurePeak(threads: number): number[];
  conv2d(heap: Uint8Array, args: Float64Array): void;
  conv2dBackpropInput(heap: Uint8Array, args: Float64Array): void;
  conv2dBackpropFilter(heap: Uint8Array, args: Float64Array): void;
  matMul(heap: Uint8Array, args: Float64Array): void;
  maxPool(heap: Uint8Array, args: Float64Array): void;
  avgPool(heap: Uint8Array, args: Float64Array): void;
  maxPoolGrad(heap: Uint8Array, args: Float64Array): void;
  avgPoolGrad(heap: Uint8Array, args: Float64Array): void;
  binary(heap: Uint8Array, args: Float64Array): void;
  unary(heap: Uint8Array, args: Float64Array): void;
  select(heap: Uint8Array, args: Float64Array): void;
  sum(heap: Uint8Array, args: Float64Array): void;
  fused(heap: Uint8Array, program: Float64Array): void;
  copyBoxes(heap: Uint8Array, boxes: Float64Array): void;
  adam(heap: Uint8Array, args: Float64Array): void;
  lstmForward(heap: Uint8Array, args: Float64Array): void;
  lstmBackward(heap: Uint8Array, args: Float64Array): void;
}

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where node-gyp puts the addon. */
export const ADDON_FILE = path.join(PACKAGE_DIR, 'build', 'Release', 'dlexp_native.node');
/** Where the install step writes what went wrong when it could not build the addon. */
export const BUILD_LOG_FILE = path.join(PACKAGE_DIR, 'build', 'install-build.log');

/** The Debian/Ubuntu packages the build needs: a C++ compiler, make and Python for node-gyp, oneDNN, OpenBLAS. */
export const BUILD_PACKAGES = ['g++', 'make', 'python3', 'libdnnl-dev', 'libopenblas-dev'] as const;
/** Builds (or rebuilds) the addon in place. */
export const BUILD_COMMAND = 'npm run build:addon -w @dlexp/native';
const INSTALL_LINE = `apt-get install -y ${BUILD_PACKAGES.join(' ')}`;

export type AddonLoad = { ok: true; addon: NativeAddon } | { ok: false; reason: string; fix: string };

let loaded: AddonLoad | undefined;

/** The first line of the build log that names a problem, to quote in the reason. */
function buildFailure(buildLog: string): string | undefined {
  if (!existsSync(buildLog)) return undefined;
  const lines = readFileSync(buildLog, 'utf8').split('\n');
  const line = lines.find((l) => /fatal error|error:|not found|No such file|command not found|ENOENT/i.test(l)) ?? lines.find((l) => l.trim() !== '');
  return line?.trim().slice(0, 240);
}

/** Loads the addon from `file`; `buildLog` is where the install step said why it could not build. Exported for tests. */
export function loadAddonFrom(file: string, buildLog: string): AddonLoad {
  if (os.platform() !== 'linux') {
    return {
      ok: false,
      reason: `the native addon is built for Linux only (this is ${os.platform()})`,
      fix: 'use the wasm backend here, or run on Linux (Debian/Ubuntu)',
    };
  }
  if (!existsSync(file)) {
    const failure = buildFailure(buildLog);
    return {
      ok: false,
      reason: `the native addon is not built (${file} is missing)${
        failure === undefined ? '' : `; the install step's build failed: ${failure}`
      }`,
      fix: `${INSTALL_LINE} (Debian/Ubuntu), then ${BUILD_COMMAND}`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    addon.info();
    return { ok: true, addon };
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
    const missingLibrary = /lib[\w.+-]+\.so[\d.]*: cannot open shared object file/.exec(message);
    return {
      ok: false,
      reason: `the native addon failed to load: ${message}`,
      fix:
        missingLibrary !== null
          ? `install the run-time library it needs (${missingLibrary[0].split(':')[0]}): ${INSTALL_LINE}, then ${BUILD_COMMAND}`
          : `rebuild it: ${INSTALL_LINE}, then ${BUILD_COMMAND}`,
    };
  }
}

/** Loads the addon once per process; later calls return the same answer. */
export function loadAddon(): AddonLoad {
  loaded ??= loadAddonFrom(ADDON_FILE, BUILD_LOG_FILE);
  return loaded;
}
