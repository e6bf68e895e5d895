/** `node:util` in the page: promisify, which a data module calls when it loads. */
export function promisify<T>(fn: (...args: never[]) => void): (...args: unknown[]) => Promise<T> {
  return (...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      (fn as (...a: unknown[]) => void)(...args, (error: unknown, value: T) => (error === null || error === undefined ? resolve(value) : reject(error)));
    });
}

const NativeTextDecoder = globalThis.TextDecoder;
const NativeTextEncoder = globalThis.TextEncoder;
export { NativeTextDecoder as TextDecoder, NativeTextEncoder as TextEncoder };

export default { promisify, TextDecoder: NativeTextDecoder, TextEncoder: NativeTextEncoder };
