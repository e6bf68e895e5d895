/** Imports a module by its specifier; tests pass a stand-in to play an absent or broken package. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** How a backend is being asked for: by `backend: auto`, or by name (which allows more). */
export type RequestMode = 'auto' | 'explicit';

/** What every backend entry gets when it is created. */
export interface BackendContext {
  importModule: ModuleImporter;
  log: (line: string) => void;
  /**
   * Threads the backend computes with (`threads:` / `--threads`); undefined means the backend's
   * own default. For wasm, 1 runs the single-threaded SIMD build and more starts the
   * multi-threaded build on Node worker threads (see wasm-threads.ts).
   */
  threads?: number;
  /**
   * Asks for the WebGPU adapter outside this process (null: none; undefined: could not tell), so
   * `auto` can pass over a software adapter without loading Dawn here. Hosts that can start a
   * child process provide it; without it the webgpu entry asks in-process.
   */
  probeWebgpuAdapter?: () => WebgpuAdapterSummary | null | undefined;
}

/** What a WebGPU adapter probe reports: its info, as GPUAdapterInfo has it. */
export interface WebgpuAdapterSummary {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** A backend that can be switched to, with what to record about it. */
export interface UsableBackend {
  usable: true;
  adapter?: string;
  device?: string;
  /** Threads it computes with, where it has a choice (CPU backends). */
  threads?: number;
  versions: Record<string, string>;
  /** A note for the log, such as "software adapter, allowed because named explicitly". */
  note?: string;
}

/** A backend that cannot be used here, why, and what would fix it. */
export interface UnusableBackend {
  usable: false;
  reason: string;
  /** How to make it usable: the package to install, the driver to add. */
  fix: string;
}

export type BackendProbe = UsableBackend | UnusableBackend;

/** One backend, as its registry entry creates it. */
export interface Backend {
  /** The registry (YAML) name: cuda, tensorflow, webgpu, wasm, cpu. */
  name: string;
  /** The TF.js backend it runs as (cuda and tensorflow both run as 'tensorflow'). */
  tfBackend: string;
  /**
   * Loads its packages and registers the TF.js backend (without switching to it), then says
   * whether it is usable for this request. Throws only on internal errors.
   */
  prepare(mode: RequestMode): Promise<BackendProbe>;
  /**
   * Checks that need the TF.js backend switched on (such as whether libtensorflow really placed
   * ops on a GPU). Runs after a successful tf.setBackend.
   */
  confirm?(mode: RequestMode): Promise<BackendProbe>;
  /**
   * The kernels of `kernelNames` it has no implementation for. Meaningful once prepare() has
   * loaded its package (kernels register on load; for wasm, prepare adds the training kernels).
   */
  missingKernels(kernelNames: string[]): string[];
}

/** What activateBackend returns and the run records. */
export interface ActiveBackend {
  name: string;
  tfBackend: string;
  adapter?: string;
  device?: string;
  /** Threads it computes with, where it has a choice (recorded in summary.json as backend.threads). */
  threads?: number;
  versions: Record<string, string>;
  /** Better backends that `auto` passed over, and why. Empty when a backend was named. */
  skipped: { name: string; reason: string }[];
}
