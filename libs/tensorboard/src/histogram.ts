/**
 * Histograms as TensorFlow summarizes them (tensorflow/core/lib/histogram/histogram.cc): fixed
 * bucket edges growing by 10% from 1e-12 to 1e20 on each side of zero, a value counted in the
 * first bucket whose right edge is above it, and runs of empty buckets collapsed into one on
 * output. The same edges for every variable and step is what lets TensorBoard's histogram and
 * distribution views line steps up.
 */

export interface HistogramData {
  min: number;
  max: number;
  /** How many values were counted (non-finite values are left out). */
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edges of the buckets, increasing; bucket i holds the values in [bucketLimit[i-1], bucketLimit[i]). */
  bucketLimit: number[];
  /** Counts per bucket, in the order of `bucketLimit`. */
  bucket: number[];
}

interface BucketEdges {
  /** All right edges: the negatives, 0, the positives. */
  limits: Float64Array;
  /** The positive edges alone, 1e-12 up to DBL_MAX: the negatives mirror them. */
  positive: Float64Array;
}

let defaultEdges: BucketEdges | undefined;

function edges(): BucketEdges {
  if (defaultEdges === undefined) {
    const positive: number[] = [];
    // Repeated multiplication, not powers: the edges must equal TensorFlow's to the last bit.
    for (let v = 1e-12; v < 1e20; v *= 1.1) positive.push(v);
    positive.push(Number.MAX_VALUE);
    const limits = new Float64Array(positive.length * 2 + 1);
    for (let i = 0; i < positive.length; i++) {
      limits[positive.length - 1 - i] = -positive[i]!;
      limits[positive.length + 1 + i] = positive[i]!;
    }
    limits[positive.length] = 0;
    defaultEdges = { limits, positive: Float64Array.from(positive) };
  }
  return defaultEdges;
}

/** TensorFlow's default bucket right edges: -DBL_MAX, ..., -1e-12, 0, 1e-12, ..., DBL_MAX. */
export function defaultBucketLimits(): Float64Array {
  return edges().limits.slice();
}

const LOG_GROWTH = Math.log(1.1);

/**
 * How many positive edges are below `u` (> 0), or at most `u` when `inclusive`. The logarithm
 * lands within a step of the answer; comparing against the edges themselves makes it exact.
 */
function positiveRank(positive: Float64Array, u: number, inclusive: boolean): number {
  let j = Math.floor(Math.log(u / 1e-12) / LOG_GROWTH) + 1;
  if (!(j >= 0)) j = 0;
  if (j > positive.length) j = positive.length;
  if (inclusive) {
    while (j > 0 && positive[j - 1]! > u) j--;
    while (j < positive.length && positive[j]! <= u) j++;
  } else {
    while (j > 0 && positive[j - 1]! >= u) j--;
    while (j < positive.length && positive[j]! < u) j++;
  }
  return j;
}

/** The bucket of a finite value: the index of the first edge strictly above it (C++'s upper_bound). */
function bucketIndex(positive: Float64Array, value: number): number {
  const zero = positive.length;
  if (value > 0) {
    // The largest finite double is the last edge itself, and upper_bound would step past the end.
    return Math.min(zero + 1 + positiveRank(positive, value, true), 2 * zero);
  }
  if (value < 0) return zero - positiveRank(positive, -value, false);
  return zero + 1;
}

/**
 * The histogram of `values` over TensorFlow's default buckets. NaN and infinite values are not
 * counted (TensorFlow's histogram has no bucket for them); an empty input gives min = max = 0 and
 * a single empty bucket.
 */
export function computeHistogram(values: ArrayLike<number>): HistogramData {
  const { limits, positive } = edges();
  const counts = new Float64Array(limits.length);
  let min = Infinity;
  let max = -Infinity;
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[bucketIndex(positive, v)]! += 1;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = 0; i < counts.length; ) {
    let end = limits[i]!;
    const count = counts[i]!;
    i++;
    if (count === 0) {
      // A run of empty buckets is written as one, ending where the run ends.
      while (i < counts.length && counts[i] === 0) end = limits[i++]!;
    }
    bucketLimit.push(end);
    bucket.push(count);
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit, bucket };
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}
