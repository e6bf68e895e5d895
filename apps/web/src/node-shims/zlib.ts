import { Buffer } from 'buffer';

/**
 * `node:zlib` in the page: gunzip through the browser's DecompressionStream (Fashion-MNIST's
 * files are gzip-compressed); the synchronous calls have no browser equivalent.
 */
export function gunzip(input: Uint8Array, callback: (error: Error | null, result?: Buffer) => void): void {
  const stream = new Blob([input as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  new Response(stream)
    .arrayBuffer()
    .then((buffer) => callback(null, Buffer.from(buffer)))
    .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
}

function unavailable(name: string): never {
  throw new Error(`zlib.${name} is not available in the browser`);
}

export function inflateSync(): never {
  return unavailable('inflateSync');
}

export function gzipSync(): never {
  return unavailable('gzipSync');
}

export default { gunzip, inflateSync, gzipSync };
