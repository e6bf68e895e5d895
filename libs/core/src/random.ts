/**
 * Seeded random streams. A run never touches a hidden global generator: every draw comes from a
 * stream derived from (run seed, purpose, step), so a resumed run replays exactly the same numbers.
 */

/** 32-bit FNV-1a over the text, then finalized with murmur3's mixer. */
function hashText(text: string, start: number): number {
  let h = start >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A 32-bit seed for one purpose: `deriveSeed(runSeed, 'dropout', layerName, step)`.
 * Different parts give unrelated seeds; the same parts always give the same seed.
 */
export function deriveSeed(seed: number, ...parts: (string | number)[]): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const part of parts) h = hashText(`${typeof part}:${part}`, h ^ 0x2545f491);
  return h;
}

/** The generator's four words, and the second normal of a Box-Muller pair when one is waiting. */
export type RandomState = [number, number, number, number] | [number, number, number, number, number];

/** sfc32: small, fast, passes PractRand to 2^40; its whole state is four 32-bit words. */
export class RandomStream {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: number, ...purpose: (string | number)[]) {
    const s = deriveSeed(seed, ...purpose);
    this.a = mix32(s ^ 0x243f6a88);
    this.b = mix32(s ^ 0x85a308d3);
    this.c = mix32(s ^ 0x13198a2e);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: RandomState): RandomStream {
    const stream = new RandomStream(0);
    [stream.a, stream.b, stream.c, stream.d] = state;
    stream.spareNormal = state[4];
    return stream;
  }

  state(): RandomState {
    return this.spareNormal === undefined ? [this.a, this.b, this.c, this.d] : [this.a, this.b, this.c, this.d, this.spareNormal];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  range(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, stddev = 1): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return mean + stddev * z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + stddev * r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
  }
}
