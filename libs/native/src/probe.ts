import { loadAddon } from './addon';
import { defaultThreads } from './native-backend';

export interface NativeAvailable {
  available: true;
  /** oneDNN's version, the instruction set its kernels use here, OpenMP's version. */
  versions: Record<string, string>;
  /** The default thread count (the core count). */
  threads: number;
  /** A line for logs, such as "oneDNN 2.6.3, avx512_core_bf16, 2 cores". */
  device: string;
}

export interface NativeUnavailable {
  available: false;
  /** Why, in one sentence: not built, or built but failing to load (and the first build error). */
  reason: string;
  /** The Debian packages to install and the command that builds the addon. */
  fix: string;
}

export type NativeProbe = NativeAvailable | NativeUnavailable;

/** Whether the addon is built and loads here. Loads it on first call; never throws. */
export function probeNativeAddon(): NativeProbe {
  const load = loadAddon();
  if (!load.ok) return { available: false, reason: load.reason, fix: load.fix };
  const info = load.addon.info();
  const threads = defaultThreads();
  return {
    available: true,
    versions: { onednn: info.onednn, isa: info.isa, loops: info.loops, openmp: info.openmp },
    threads,
    device: `oneDNN ${info.onednn}, ${info.isa}, ${info.processors} core${info.processors === 1 ? '' : 's'}`,
  };
}
