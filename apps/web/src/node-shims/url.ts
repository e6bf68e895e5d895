/** `node:url` in the page: file URLs of the virtual file table's paths. */
export function pathToFileURL(path: string): URL {
  return new URL(`file://${encodeURI(path.startsWith('/') ? path : `/${path}`)}`);
}

export function fileURLToPath(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return decodeURIComponent(parsed.pathname);
}

const NativeURL = globalThis.URL;
export { NativeURL as URL };

export default { pathToFileURL, fileURLToPath, URL: NativeURL };
