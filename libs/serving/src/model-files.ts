import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ConfigError, DataError } from '@dlexp/core';
import type { FrozenGraph, GraphDefJson, HostTensor, NodeDefJson } from './graph-def';
import { jsonSyntaxError } from './json-position';
import { decodeWeightGroup, encodeWeights, type ShardSource, type WeightGroupJson, type WeightSpec } from './weights';

/**
 * Finding and reading the files of a saved model: a run directory (its `model/` folder), a TF.js
 * model.json (Layers or graph model) with its weight shards, or a frozen GraphDef (`.pb`).
 * Every problem with a file is a DataError naming it and, where there is one, the byte offset.
 */

export type ModelFormat = 'layers-model' | 'graph-model' | 'frozen-pb';

export interface ModelLocation {
  format: ModelFormat;
  /** The model.json or .pb file. */
  file: string;
  /** The folder it is in: where weight shards and preprocessing.json are looked for. */
  dir: string;
}

/** model.json as the TF.js converter and tfjs-layers write it (the fields this library reads). */
export interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  weightsManifest: WeightGroupJson[];
  signature?: { inputs?: Record<string, { name?: string }>; outputs?: Record<string, { name?: string }> };
  userDefinedMetadata?: Record<string, unknown>;
}

export const PREPROCESSING_FILE = 'preprocessing.json';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function readBytes(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${(error as Error).message})`}`);
  }
}

/** Parses JSON text; a syntax error names the file, the byte offset, its line and column. */
export function parseJsonFile(file: string, bytes = readBytes(file)): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    const found = jsonSyntaxError(text) ?? { at: text.length, reason: (error as Error).message };
    const before = text.slice(0, found.at);
    const line = before.split('\n').length;
    const col = found.at - before.lastIndexOf('\n');
    throw new DataError(`${file}: byte ${Buffer.byteLength(before)} (line ${line}, column ${col}): not valid JSON: ${found.reason}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Which kind of model.json this is: its `format`, else what its topology looks like. */
function jsonFormat(file: string, json: unknown): ModelFormat {
  if (!isRecord(json)) throw new DataError(`${file}: not a TF.js model.json (the file is not a JSON object)`);
  if (json['format'] === 'graph-model' || json['format'] === 'layers-model') return json['format'];
  const topology = json['modelTopology'];
  if (isRecord(topology) && Array.isArray(topology['node'])) return 'graph-model';
  if (isRecord(topology) && ('class_name' in topology || 'model_config' in topology)) return 'layers-model';
  throw new DataError(`${file}: not a TF.js model.json (no 'format' and no recognizable 'modelTopology')`);
}

/**
 * Where the model at `path` is and what format it has. `path` may be a run directory (its
 * `model/` folder is used), a folder holding model.json, a model.json, or a `.pb` file.
 */
export function locateModel(path: string): ModelLocation {
  let file = path;
  if (isDirectory(path)) {
    const candidates = [join(path, 'model', 'model.json'), join(path, 'model.json'), join(path, 'model.pb')];
    const found = candidates.find(isFile);
    if (found === undefined) {
      throw new ConfigError(`${path}: no model found (looked for model/model.json, model.json and model.pb)`);
    }
    file = found;
  } else if (!isFile(path)) {
    throw new ConfigError(`${path}: no such file or directory`);
  }
  const bytes = readBytes(file);
  // JSON starts with '{' (after optional whitespace); a GraphDef starts with a field tag.
  let first = 0;
  while (first < bytes.length && (bytes[first] === 0x20 || bytes[first] === 0x0a || bytes[first] === 0x0d || bytes[first] === 0x09)) first++;
  if (file.endsWith('.json') || bytes[first] === 0x7b) {
    return { format: jsonFormat(file, parseJsonFile(file, bytes)), file, dir: dirname(file) };
  }
  return { format: 'frozen-pb', file, dir: dirname(file) };
}

/** Reads and checks a model.json's common fields. */
export function readModelJson(file: string): ModelJson {
  const json = parseJsonFile(file);
  if (!isRecord(json)) throw new DataError(`${file}: not a TF.js model.json (the file is not a JSON object)`);
  if (!isRecord(json['modelTopology'])) throw new DataError(`${file}: modelTopology: missing or not an object`);
  const manifest = json['weightsManifest'] ?? [];
  if (!Array.isArray(manifest)) throw new DataError(`${file}: weightsManifest: not a list`);
  manifest.forEach((group: unknown, g) => {
    if (!isRecord(group) || !Array.isArray(group['paths']) || !Array.isArray(group['weights'])) {
      throw new DataError(`${file}: weightsManifest[${g}]: needs 'paths' and 'weights' lists`);
    }
    group['paths'].forEach((p: unknown, i) => {
      if (typeof p !== 'string' || p === '' || isAbsolute(p) || normalize(p).split(sep).includes('..')) {
        throw new DataError(`${file}: weightsManifest[${g}].paths[${i}]: ${JSON.stringify(p)} is not a file name inside the model's folder`);
      }
    });
    group['weights'].forEach((w: unknown, i) => {
      if (!isRecord(w) || typeof w['name'] !== 'string' || !Array.isArray(w['shape']) || typeof w['dtype'] !== 'string') {
        throw new DataError(`${file}: weightsManifest[${g}].weights[${i}]: needs a name, a shape and a dtype`);
      }
    });
  });
  return { ...(json as unknown as ModelJson), weightsManifest: manifest as WeightGroupJson[] };
}

/** Every weight of a model.json, read from its shards (in the same folder). */
export function readWeights(file: string, manifest: readonly WeightGroupJson[]): Map<string, HostTensor> {
  const dir = dirname(file);
  const all = new Map<string, HostTensor>();
  for (const group of manifest) {
    const shards: ShardSource[] = group.paths.map((p) => ({ path: join(dir, p), bytes: readBytes(join(dir, p)) }));
    for (const [name, tensor] of decodeWeightGroup(group.weights, shards, file)) all.set(name, tensor);
  }
  return all;
}

/** A graph model (model.json + shards) as a frozen graph. */
export function readGraphModel(file: string): { frozen: FrozenGraph; json: ModelJson } {
  const json = readModelJson(file);
  const topology = json.modelTopology as Record<string, unknown>;
  if (!Array.isArray(topology['node'])) throw new DataError(`${file}: modelTopology.node: missing or not a list`);
  (topology['node'] as unknown[]).forEach((node, i) => {
    if (!isRecord(node) || typeof node['name'] !== 'string' || typeof node['op'] !== 'string') {
      throw new DataError(`${file}: modelTopology.node[${i}]: needs a name and an op`);
    }
    if (node['input'] !== undefined && !(Array.isArray(node['input']) && node['input'].every((x) => typeof x === 'string'))) {
      throw new DataError(`${file}: modelTopology.node[${i}].input: not a list of names`);
    }
    if (node['attr'] !== undefined && !isRecord(node['attr'])) throw new DataError(`${file}: modelTopology.node[${i}].attr: not an object`);
  });
  const graph = topology as unknown as GraphDefJson;
  const constants = readWeights(file, json.weightsManifest);
  const frozen: FrozenGraph = { graph: { ...graph, node: graph.node.map((n: NodeDefJson) => n) }, constants };
  return { frozen, json };
}

/** The bytes of a file written whole or not at all (a temporary name, then a rename). */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${Date.now()}.tmp`);
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

/** TF.js' converter splits weights into shards of 4 MiB, which browsers cache well. */
const SHARD_BYTES = 4 * 1024 * 1024;

export interface GraphModelSignature {
  inputs: Record<string, { name: string; dtype: string; tensorShape: unknown }>;
  outputs: Record<string, { name: string; dtype: string; tensorShape: unknown }>;
}

/**
 * Writes a frozen graph as a TF.js graph model: model.json (format graph-model, the GraphDef as
 * modelTopology, a weightsManifest) and its weight shards. Returns the files written.
 */
export function writeGraphModel(
  frozen: FrozenGraph,
  outDir: string,
  extra: { signature?: GraphModelSignature; userDefinedMetadata?: Record<string, unknown>; generatedBy?: string } = {},
): string[] {
  mkdirSync(outDir, { recursive: true });
  const ordered = frozen.graph.node.filter((n) => n.op === 'Const').map((n): [string, HostTensor] => {
    const value = frozen.constants.get(n.name);
    if (value === undefined) throw new DataError(`constant '${n.name}' has no value`);
    return [n.name, value];
  });
  const { specs, data } = encodeWeights(ordered);
  const count = Math.max(1, Math.ceil(data.length / SHARD_BYTES));
  const paths: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `group1-shard${i + 1}of${count}.bin`;
    paths.push(name);
    const path = join(outDir, name);
    writeFileAtomic(path, data.subarray(i * SHARD_BYTES, Math.min(data.length, (i + 1) * SHARD_BYTES)));
    files.push(path);
  }
  const modelJson: Record<string, unknown> = {
    format: 'graph-model',
    generatedBy: extra.generatedBy ?? 'dlexp',
    convertedBy: 'dlexp serving',
    modelTopology: frozen.graph,
    weightsManifest: [{ paths, weights: specs satisfies WeightSpec[] }],
  };
  if (extra.signature !== undefined) modelJson['signature'] = extra.signature;
  if (extra.userDefinedMetadata !== undefined) modelJson['userDefinedMetadata'] = extra.userDefinedMetadata;
  const jsonPath = join(outDir, 'model.json');
  writeFileAtomic(jsonPath, `${JSON.stringify(modelJson)}\n`);
  return [jsonPath, ...files];
}

/** Refuses to replace a model file that is already there. */
export function assertWritable(paths: readonly string[]): void {
  const taken = paths.filter((p) => existsSync(p));
  if (taken.length > 0) throw new ConfigError(`${taken[0]}: already exists; export to a new or empty folder`);
}

/** Image files under the given paths: files as given, folders searched (recursively) for PNG and JPEG files, sorted. */
export function collectImageFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(png|jpe?g)$/i.test(entry.name)) files.push(path);
    }
  };
  for (const path of paths) {
    if (isDirectory(path)) {
      const before = files.length;
      walk(path);
      if (files.length === before) throw new DataError(`${path}: the folder holds no PNG or JPEG file`);
    } else if (isFile(path)) files.push(path);
    else throw new DataError(`${path}: no such file or directory`);
  }
  return files;
}
