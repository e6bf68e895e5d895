/**
 * The few pieces of the normal distribution that TPE needs: the mass of an interval in log space
 * (accurate far into the tails, where a kernel several widths away still has to rank candidates),
 * the log density of a truncated normal, and drawing from one.
 */

const SQRT2 = Math.SQRT2;
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * erf(x) for 0 ≤ x < 3 from the series 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)), whose terms are all
 * positive: no cancellation, about 15 digits.
 */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/**
 * log erfc(x) for x ≥ 3 from the continued fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))),
 * evaluated with the modified Lentz method; kept in log space so x = 50 does not underflow.
 */
function logErfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/** log erfc(x) for x ≥ 0. */
function logErfc(x: number): number {
  if (x < 3) return Math.log1p(-erfSeries(x));
  return logErfcContinuedFraction(x);
}

/** erf(x) for x ≥ 0. */
function erfPositive(x: number): number {
  if (x < 3) return erfSeries(x);
  return -Math.expm1(logErfcContinuedFraction(x));
}

/** log of P(z ≥ t) for a standard normal z and t ≥ 0. */
function logUpperTail(t: number): number {
  return Math.log(0.5) + logErfc(t / SQRT2);
}

/** log of P(a ≤ z ≤ b) for a standard normal z; −Infinity when the interval is empty. */
export function logNormalMass(a: number, b: number): number {
  if (!(b > a)) return -Infinity;
  if (a >= 0) {
    const upper = logUpperTail(a);
    if (b === Infinity) return upper;
    return upper + Math.log1p(-Math.exp(logUpperTail(b) - upper));
  }
  if (b <= 0) return logNormalMass(-b, -a);
  // a < 0 < b: the mass is the sum of two positive halves, so nothing cancels.
  const left = a === -Infinity ? 1 : erfPositive(-a / SQRT2);
  const right = b === Infinity ? 1 : erfPositive(b / SQRT2);
  return Math.log(0.5 * (left + right));
}

/** log density at x of a normal(mu, sigma) truncated to [low, high]. */
export function truncatedNormalLogPdf(x: number, mu: number, sigma: number, low: number, high: number): number {
  if (x < low || x > high) return -Infinity;
  const z = (x - mu) / sigma;
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - logNormalMass((low - mu) / sigma, (high - mu) / sigma);
}

/**
 * The point of a normal(mu, sigma) truncated to [low, high] below which a fraction `u` of its mass
 * lies. Found by bisection on the standardized interval: one uniform number per draw, so the number
 * of draws a proposal takes never depends on the values drawn.
 */
export function truncatedNormalQuantile(u: number, mu: number, sigma: number, low: number, high: number): number {
  const a = (low - mu) / sigma;
  const b = (high - mu) / sigma;
  const logTotal = logNormalMass(a, b);
  if (logTotal === -Infinity) return Math.min(high, Math.max(low, mu));
  const target = Math.log(u) + logTotal;
  let lo = a;
  let hi = b;
  for (let i = 0; i < 100 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo), Math.abs(hi)); i++) {
    const mid = 0.5 * (lo + hi);
    if (logNormalMass(a, mid) < target) lo = mid;
    else hi = mid;
  }
  return Math.min(high, Math.max(low, mu + sigma * 0.5 * (lo + hi)));
}

/** log(Σ exp(values)) without overflow; −Infinity for no values or all −Infinity. */
export function logSumExp(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
