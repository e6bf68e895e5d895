import { fileURLToPath } from 'node:url';
import { defineConfig, type Alias } from 'vite';

const shim = (name: string) => fileURLToPath(new URL(`./src/node-shims/${name}.ts`, import.meta.url));

/**
 * Node built-ins the engine libraries import, each mapped to its page version (src/node-shims/).
 * The libraries run unchanged in the page: what they read from "files" comes from the virtual
 * file table the page fills. Built-ins without a page version get `unavailable`.
 */
const SHIMS: Record<string, string> = {
  fs: 'fs',
  'fs/promises': 'fs-promises',
  path: 'path',
  url: 'url',
  module: 'module',
  zlib: 'zlib',
  util: 'util',
  os: 'os',
  crypto: 'unavailable',
  child_process: 'unavailable',
  worker_threads: 'unavailable',
  perf_hooks: 'unavailable',
};

const aliases: Alias[] = [
  ...Object.entries(SHIMS).map(([name, file]) => ({ find: new RegExp(`^(node:)?${name.replace('/', '\\/')}$`), replacement: shim(file) })),
  // Native packages the Node side of the libraries loads: PNG rendering, image decoding, Dawn (WebGPU for Node).
  { find: /^@resvg\/resvg-js$/, replacement: shim('unavailable') },
  { find: /^webgpu$/, replacement: shim('unavailable') },
  { find: /^@napi-rs\/canvas$/, replacement: shim('unavailable') },
  { find: /^@node-rs\/crc32$/, replacement: shim('unavailable') },
];

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // No dev server: the dashboard builds once and serves the files (see libs/dashboard/README.md).
  publicDir: false,
  resolve: { alias: aliases },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    emptyOutDir: true,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
    rolldownOptions: {
      // A library importing a Node function the page has no shim for gets undefined, not a
      // failed build: node-only paths never run in the page.
      shimMissingExports: true,
    },
  },
  worker: { format: 'es' },
});
