/** Small helpers every backend entry uses: kernel lookups, probes, versions, the CPU's name. */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { RegistryEntry } from '@dlexp/core';
import { exported } from '../load';
import type { Backend, BackendContext, UnusableBackend } from '../types';

export type BackendEntry = RegistryEntry<Record<string, never>, BackendContext, Backend>;

/** Backends take no parameters in YAML; their options (threads) come through the context. */
export const NO_PARAMS = {} as const;

/** Kernel lookups go to the TF.js backend an entry runs as. */
export function missingOn(tfBackend: string): (kernelNames: string[]) => string[] {
  return (kernelNames) => [...new Set(kernelNames)].filter((name) => tf.getKernel(name, tfBackend) === undefined).sort();
}

export function unusable(reason: string, fix: string): UnusableBackend {
  return { usable: false, reason, fix };
}

export function coreVersions(): Record<string, string> {
  return { 'tfjs-core': tf.version_core, node: process.versions.node };
}

export function cpuName(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  return `${model} (${cpus.length} cores)`;
}

/** Versions a libtensorflow package reports about itself (`version: {'tfjs-node': ..., tensorflow: ...}`). */
export function reportedVersions(module: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const version = exported(module, 'version');
  if (typeof version === 'object' && version !== null) {
    for (const [key, value] of Object.entries(version)) if (typeof value === 'string') out[key] = value;
  }
  return out;
}
