import type { RandomStream } from '@dlexp/core';
import { logNormalMass, logSumExp, truncatedNormalQuantile } from './normal';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
import type { CategoricalParameter, RangeParameter } from './parameters';

/**
 * One-dimensional Parzen estimators, the densities l(x) and g(x) of TPE, built the way Optuna
 * describes them: one kernel per observation plus a broad prior kernel, each observation weighted.
 */

export interface ParzenOptions {
  /** Weight of the prior kernel against each observation's weight of (about) 1. */
  priorWeight: number;
}

/** A density over one parameter that can be sampled and evaluated. */
export interface Parzen<T> {
  sample(stream: RandomStream): T;
  logDensity(value: T): number;
}

function normalize(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Draws a kernel index from normalized weights with one uniform number. */
function pickKernel(weights: readonly number[], stream: RandomStream): number {
  const u = stream.uniform();
  let cumulative = 0;
  for (let i = 0; i < weights.length - 1; i++) {
    cumulative += weights[i]!;
    if (u < cumulative) return i;
  }
  return weights.length - 1;
}

/**
 * A mixture of normals truncated to the parameter's range, in log space for log scales. An integer
 * owns the interval of half a step either side of it, so its density is the mass of that interval.
 *
 * Bandwidths: sort the kernel centres (observations and the prior's, the middle of the range) between
 * the two ends of the range; each kernel's width is the larger gap to its neighbours, the outermost
 * ones measured to their inner neighbour only. Widths are clipped to [range / min(100, kernels + 1), range];
 * the prior kernel sits in the middle with the whole range as its width.
 */
export function createNumericParzen(parameter: RangeParameter, observations: readonly number[], weights: readonly number[], options: ParzenOptions): Parzen<number> {
  const log = parameter.scale === 'log';
  const integer = parameter.kind === 'integer';
  const toInternal = (x: number) => (log ? Math.log(x) : x);
  const low = toInternal(integer ? parameter.min - 0.5 : parameter.min);
  const high = toInternal(integer ? parameter.max + 0.5 : parameter.max);
  const range = high - low;
  const prior = 0.5 * (low + high);

  const mus = observations.map(toInternal);
  const sigmas = bandwidths(mus, prior, low, high);
  mus.push(prior);
  sigmas.push(range);
  const kernelWeights = normalize(observations.length === 0 ? [1] : [...weights, options.priorWeight]);

  // Each kernel's weight over the mass its normal puts inside the range: computed once, used per density.
  const logWeightOverMass = kernelWeights.map((w, k) => Math.log(w) - logNormalMass((low - mus[k]!) / sigmas[k]!, (high - mus[k]!) / sigmas[k]!));

  const toExternal = (x: number): number => {
    const value = log ? Math.exp(x) : x;
    return integer ? Math.min(parameter.max, Math.max(parameter.min, Math.round(value))) : Math.min(parameter.max, Math.max(parameter.min, value));
  };

  return {
    sample(stream) {
      const k = pickKernel(kernelWeights, stream);
      return toExternal(truncatedNormalQuantile(stream.uniform(), mus[k]!, sigmas[k]!, low, high));
    },
    logDensity(value) {
      if (!(value >= parameter.min && value <= parameter.max)) return -Infinity;
      const terms = kernelWeights.map((_, k) => {
        const mu = mus[k]!;
        const sigma = sigmas[k]!;
        if (!integer) {
          const z = (toInternal(value) - mu) / sigma;
          return logWeightOverMass[k]! - 0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma);
        }
        const left = Math.max(low, toInternal(value - 0.5));
        const right = Math.min(high, toInternal(value + 0.5));
        return logWeightOverMass[k]! + logNormalMass((left - mu) / sigma, (right - mu) / sigma);
      });
      return logSumExp(terms);
    },
  };
}

function bandwidths(mus: readonly number[], prior: number, low: number, high: number): number[] {
  const n = mus.length;
  if (n === 0) return [];
  const centres = [...mus, prior];
  const order = centres.map((_, i) => i).sort((a, b) => centres[a]! - centres[b]! || a - b);
  const sorted = [low, ...order.map((i) => centres[i]!), high];
  const sortedSigmas = order.map((_, j) => Math.max(sorted[j + 1]! - sorted[j]!, sorted[j + 2]! - sorted[j + 1]!));
  // The ends of the range are not neighbours: the outermost kernels take the gap to their inner one.
  if (sorted.length >= 4) {
    sortedSigmas[0] = sorted[2]! - sorted[1]!;
    sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2]! - sorted[sorted.length - 3]!;
  }
  const kernels = n + 1;
  const minSigma = (high - low) / Math.min(100, 1 + kernels);
  const maxSigma = high - low;
  const sigmas = new Array<number>(centres.length);
  order.forEach((i, j) => {
    sigmas[i] = Math.min(maxSigma, Math.max(minSigma, sortedSigmas[j]!));
  });
  return sigmas.slice(0, n);
}

/**
 * A categorical density: each observation's kernel puts weight 1 on its value plus the prior weight
 * spread evenly over all values (smoothing), the prior kernel is uniform, and the kernels are mixed
 * by the observation weights and the prior weight.
 */
export function createCategoricalParzen(parameter: CategoricalParameter, observations: readonly number[], weights: readonly number[], options: ParzenOptions): Parzen<number> {
  const choices = parameter.values.length;
  const probabilities = new Array<number>(choices).fill(0);
  if (observations.length === 0) probabilities.fill(1 / choices);
  else {
    const kernelWeights = normalize([...weights, options.priorWeight]);
    const kernels = observations.length + 1;
    const smoothing = options.priorWeight / kernels;
    observations.forEach((choice, k) => {
      const rowTotal = smoothing * choices + 1;
      for (let c = 0; c < choices; c++) probabilities[c]! += (kernelWeights[k]! * (smoothing + (c === choice ? 1 : 0))) / rowTotal;
    });
    const priorWeight = kernelWeights[observations.length]!;
    for (let c = 0; c < choices; c++) probabilities[c]! += priorWeight / choices;
  }
  const logProbabilities = probabilities.map(Math.log);
  return {
    sample: (stream) => pickKernel(probabilities, stream),
    logDensity: (choice) => logProbabilities[choice] ?? -Infinity,
  };
}
