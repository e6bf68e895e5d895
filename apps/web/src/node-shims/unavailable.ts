/**
 * Node modules with no place in the page (crypto, child_process, worker_threads, the native
 * packages `@resvg/resvg-js`, `@napi-rs/canvas`, `@node-rs/crc32` and `webgpu`): the engine imports them only on node-only paths, so the
 * page never calls them; if it did, the call says why it fails.
 */
function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser`);
}

export function createHash(): never {
  return unavailable('crypto.createHash');
}

export class Resvg {
  constructor() {
    unavailable('PNG rendering (@resvg/resvg-js)');
  }
}

export function create(): never {
  return unavailable('the webgpu npm package (Dawn for Node); the page uses the browser\'s own WebGPU');
}

export const globals = {};

export function createCanvas(): never {
  return unavailable('@napi-rs/canvas (image decoding and captcha drawing)');
}

export function loadImage(): never {
  return unavailable('@napi-rs/canvas (image decoding)');
}

export const GlobalFonts = {};

export function crc32(): never {
  return unavailable('@node-rs/crc32 (PNG and TFRecord checksums)');
}

export function crc32c(): never {
  return unavailable('@node-rs/crc32 (TFRecord checksums)');
}

export default {};
