import * as tf from '@tensorflow/tfjs';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, didYouMean, RunError, type Diagnostic, type PathSegment } from '@dlexp/core';
import type { ExperimentSource, LoadedExperiment } from '@dlexp/config';
import { cacheKey, userCacheDirectory } from '@dlexp/data';
import { defaultLayerName, type LayerNodeConfig } from '@dlexp/layers';
import type { TrainableModel } from './trainable-model';
import type { TransferParams } from './transfer-params';

type Entry = { type: string; [key: string]: unknown };

/** How a run trains the experiment a model starts from (runExperiment, given by the caller). */
export type TrainSource = (source: LoadedExperiment, out: string) => Promise<{ status: string }>;

export interface TransferOptions {
  /** Whether this run is a --quick one: an experiment named in model.from is then trained in its quick form. */
  quick: boolean;
  /** Loads an experiment file named in model.from (openExperiment with the run's registries). */
  open(file: string, options: { quick: boolean; displayName: string }): Promise<LoadedExperiment>;
  train: TrainSource;
  say(line: string): void;
  /** Where trained source experiments are cached (default: `<user cache>/models`). */
  cacheDirectory?: string;
  /** Aborting stops waiting for another run that is training the same source. */
  signal?: AbortSignal;
  /** How often a run waiting for another one's training looks again (default 5 s). */
  pollMs?: number;
}

export interface PreparedTransfer {
  /**
   * The experiment with the saved model's kept layers spliced in front of the model's own, so the
   * model is built by the same builder as any other. Problems found while building it are
   * reported where they are written: a kept layer's at its `keep` entry, the rest as usual.
   */
  experiment: LoadedExperiment;
  /** Writes the saved weights into the kept layers (unless `transfer.weights` is random). */
  initialize(model: TrainableModel): void;
  /** One line for the log: where the model comes from and what is kept. */
  description: string;
}

/** A saved model's layers as graph nodes: each with its name and the names of its inputs. */
interface SourceNode {
  name: string;
  inputs: string[];
  config: LayerNodeConfig;
}

interface SavedModel {
  /** The run directory (for messages). */
  runDirectory: string;
  modelFolder: string;
  config: Entry;
}

/**
 * Resolves `model.from` of an experiment: finds the saved model (training the experiment it names
 * first, once, into the cache), checks `keep` against its layers and splices them into the model
 * config. Undefined when the model has no `from`. Every problem is a ConfigError at its line.
 */
export async function prepareTransfer(experiment: LoadedExperiment, options: TransferOptions): Promise<PreparedTransfer | undefined> {
  const model = experiment.resolved.model as Entry & TransferParams;
  const source = experiment.source;
  if (model.from === undefined) {
    if (model.keep !== undefined) throw new ConfigError([source.diagnostic(['model', 'keep'], 'keep selects layers of the model named in model.from; give from too')]);
    if (model.transfer?.weights === 'random') throw new ConfigError([source.diagnostic(['model', 'transfer', 'weights'], 'weights: random is for a model that starts from a saved one (model.from)')]);
    return undefined;
  }
  if (model.type !== 'sequential' && model.type !== 'graph') {
    throw new ConfigError([source.diagnostic(['model', 'from'], `model.from is for layer models (sequential, graph), not ${model.type}`)]);
  }
  const at = (path: PathSegment[], message: string) => new ConfigError([source.diagnostic(['model', ...path], message)]);
  const written = model.from;
  const absolute = resolve(dirname(source.fileOf(['model', 'from'])), written);
  if (!existsSync(absolute)) throw at(['from'], `no file or folder ${written} (looked for ${absolute})`);

  // --- The saved model's config: an experiment's own, or the one its run directory recorded.
  let saved: SavedModel | undefined;
  let sourceExperiment: LoadedExperiment | undefined;
  let sourceConfig: Entry;
  if (/\.ya?ml$/.test(absolute) && statSync(absolute).isFile()) {
    const displayName = join(dirname(source.file), written);
    try {
      sourceExperiment = await options.open(absolute, { quick: options.quick, displayName });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError([source.diagnostic(['model', 'from'], `the experiment ${written} has problems (below)`), ...error.diagnostics]);
    }
    sourceConfig = sourceExperiment.resolved.model as Entry;
  } else {
    saved = locateSavedModel(absolute, written, at);
    sourceConfig = saved.config;
  }
  if (sourceConfig.type !== 'sequential' && sourceConfig.type !== 'graph') {
    throw at(['from'], `${written} is a model of type ${sourceConfig.type}; only layer models (sequential, graph) have layers to reuse`);
  }
  if ((sourceConfig as TransferParams).from !== undefined) {
    throw at(['from'], `${written} was itself built from another model (model.from); start from a model trained without it`);
  }

  // --- Which layers are kept, checked against the saved model before anything is trained.
  const splice = spliceModel(model, sourceConfig, source);

  // --- An experiment is trained once into the cache (keyed by its config hash) and reused; only
  // its config is needed when the kept layers start from fresh weights.
  const weights = model.transfer?.weights ?? 'saved';
  if (saved === undefined && weights === 'saved') saved = await trainedSource(sourceExperiment!, written, options, at);

  const derived: LoadedExperiment = {
    ...experiment,
    resolved: { ...experiment.resolved, model: splice.config },
    source: translatingSource(source, splice.translate),
  };
  const keptText = splice.kept.length === 0 ? 'no layers' : splice.kept.join(', ');
  return {
    experiment: derived,
    description:
      saved === undefined || weights === 'random'
        ? `model from ${written}: keeps the architecture of ${keptText}, with fresh weights (from scratch)`
        : `model from ${written} (${saved.runDirectory}): keeps ${keptText} with their saved weights`,
    initialize: (built) => {
      if (saved !== undefined && weights === 'saved') loadKeptWeights(built, saved, splice, source, written);
    },
  };
}

/** A run directory, a model folder or a model.json, with the config its run recorded. */
function locateSavedModel(absolute: string, written: string, at: (path: PathSegment[], message: string) => ConfigError): SavedModel {
  let modelFolder: string;
  if (statSync(absolute).isFile()) {
    if (basename(absolute) !== 'model.json') throw at(['from'], `${written} is neither an experiment (.yaml), a run directory nor a model.json`);
    modelFolder = dirname(absolute);
  } else if (existsSync(join(absolute, 'model', 'model.json'))) modelFolder = join(absolute, 'model');
  else if (existsSync(join(absolute, 'model.json'))) modelFolder = absolute;
  else throw at(['from'], `${written} holds no saved model (no model/model.json: did its run finish?)`);
  const runDirectory = dirname(modelFolder);
  const configFile = join(runDirectory, 'config.resolved.yaml');
  if (!existsSync(configFile)) {
    throw at(['from'], `${written}: no config.resolved.yaml beside the model's folder; model.from takes a model saved by a run of this project (its run directory, its model/model.json or its experiment)`);
  }
  let config: { model?: Entry } | null;
  try {
    config = parse(readFileSync(configFile, 'utf8')) as { model?: Entry } | null;
  } catch (error) {
    throw at(['from'], `${configFile}: not readable as YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (config?.model === undefined || typeof config.model.type !== 'string') throw at(['from'], `${configFile}: holds no model config`);
  return { runDirectory, modelFolder, config: config.model };
}

/**
 * The run of `experiment` in the cache: trained now unless an earlier run left it complete. Runs
 * started together (the trials of a sweep) train it once: the first takes a lock file beside the
 * cache folder, the others wait for the folder to be complete (or for the lock's owner to be gone).
 */
async function trainedSource(experiment: LoadedExperiment, written: string, options: TransferOptions, at: (path: PathSegment[], message: string) => ConfigError): Promise<SavedModel> {
  const { name } = experiment.resolved;
  const root = options.cacheDirectory ?? join(userCacheDirectory(), 'models');
  const folder = join(root, `${name}-${cacheKey(experiment.resolved)}`);
  const lock = `${folder}.lock`;
  let waiting = false;
  while (!isCompleteRun(folder)) {
    if (takeLock(root, lock)) {
      try {
        if (!isCompleteRun(folder)) await trainInto(folder, experiment, written, options, at);
      } finally {
        rmSync(lock, { force: true });
      }
      break;
    }
    if (!waiting) options.say(`model.from: another run is training ${written} into ${folder}; waiting for it`);
    waiting = true;
    if (options.signal?.aborted === true) throw new RunError(`interrupted while waiting for ${written} to be trained`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 5000));
    if (lockOwnerGone(lock)) rmSync(lock, { force: true });
  }
  if (!waiting) options.say(`model.from: ${written} was trained before; reusing ${folder}`);
  return locateSavedModel(folder, written, at);
}

async function trainInto(folder: string, experiment: LoadedExperiment, written: string, options: TransferOptions, at: (path: PathSegment[], message: string) => ConfigError): Promise<void> {
  options.say(`model.from: training ${written}${options.quick ? ' (its quick form)' : ''} once, into ${folder}`);
  // Trained beside its final place and renamed into it, so a run stopped halfway is never reused.
  const partial = `${folder}.partial-${process.pid}-${Date.now().toString(36)}`;
  const outcome = await options.train(experiment, partial);
  if (outcome.status !== 'completed' || !isCompleteRun(partial)) throw at(['from'], `training ${written} ended ${outcome.status}; its run is in ${partial}`);
  rmSync(folder, { recursive: true, force: true });
  renameSync(partial, folder);
}

/** Creates the lock file (holding this process's id) unless it exists. */
function takeLock(root: string, lock: string): boolean {
  mkdirSync(root, { recursive: true });
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Whether the process that holds the lock has ended without removing it (killed while training). */
function lockOwnerGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    // Signal 0 only asks whether the process exists.
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function isCompleteRun(folder: string): boolean {
  const summary = join(folder, 'summary.json');
  if (!existsSync(summary) || !existsSync(join(folder, 'model', 'model.json'))) return false;
  try {
    return (JSON.parse(readFileSync(summary, 'utf8')) as { status?: string }).status === 'completed';
  } catch {
    return false;
  }
}

interface Splice {
  /** The model config with the kept layers first. */
  config: Entry;
  /** Kept layers in the order they are built. */
  kept: string[];
  /** Kept layer → its index in `keep` (undefined when keep is not written). */
  keepIndex: Map<string, number>;
  translate(path: PathSegment[]): PathSegment[];
}

/** The saved model's layers as nodes with explicit inputs, and its input and output names. */
function sourceGraph(config: Entry): { nodes: SourceNode[]; inputs: string[]; outputs: string[] } {
  if (config.type === 'sequential') {
    const layers = (config['layers'] ?? []) as LayerNodeConfig[];
    const nodes = layers.map((layer, i) => ({
      name: layer.name ?? defaultLayerName(layer.type, i),
      inputs: [i === 0 ? 'input' : (layers[i - 1]!.name ?? defaultLayerName(layers[i - 1]!.type, i - 1))],
      config: layer,
    }));
    return { nodes, inputs: ['input'], outputs: nodes.length > 0 ? [nodes[nodes.length - 1]!.name] : [] };
  }
  const written = (config['nodes'] ?? []) as LayerNodeConfig[];
  const inputs = Object.keys((config['inputs'] ?? {}) as Record<string, unknown>);
  const nodes: SourceNode[] = written.map((node, i) => ({
    name: node.name ?? defaultLayerName(node.type, i),
    inputs: node.inputs ?? (i > 0 ? [written[i - 1]!.name ?? defaultLayerName(written[i - 1]!.type, i - 1)] : inputs.slice(0, 1)),
    config: node,
  }));
  return { nodes, inputs, outputs: Object.values((config['outputs'] ?? {}) as Record<string, string>) };
}

/**
 * The model config with the kept layers of the saved model in front of the model's own layers
 * (sequential) or nodes (graph), every kept layer named as it was so its weights keep their names.
 */
function spliceModel(model: Entry & TransferParams, sourceConfig: Entry, source: ExperimentSource): Splice {
  const graph = sourceGraph(sourceConfig);
  const names = graph.nodes.map((n) => n.name);
  const problems: Diagnostic[] = [];
  const at = (path: PathSegment[], message: string) => problems.push(source.diagnostic(['model', ...path], message));
  const keepIndex = new Map<string, number>();
  if (model.keep !== undefined) {
    model.keep.forEach((name, i) => {
      if (!names.includes(name)) at(['keep', i], `the saved model has no layer '${name}'${didYouMean(name, names)} (layers: ${names.join(', ')})`);
      else keepIndex.set(name, i);
    });
  }
  const keptNodes = model.keep === undefined ? graph.nodes.filter((n) => !graph.outputs.includes(n.name)) : graph.nodes.filter((n) => keepIndex.has(n.name));
  const where = (name: string): PathSegment[] => (keepIndex.has(name) ? ['keep', keepIndex.get(name)!] : ['from']);
  const keptNames = new Set(keptNodes.map((n) => n.name));
  const sequential = model.type === 'sequential';
  const targetInputs = sequential ? ['input'] : Object.keys((model['inputs'] ?? {}) as Record<string, unknown>);
  const inputMap = new Map<string, string>();
  for (const input of graph.inputs) {
    if (targetInputs.includes(input)) inputMap.set(input, input);
    else if (graph.inputs.length === 1 && targetInputs.length === 1) inputMap.set(input, targetInputs[0]!);
  }
  keptNodes.forEach((node, k) => {
    for (const input of node.inputs) {
      if (keptNames.has(input)) continue;
      if (graph.inputs.includes(input)) {
        if (!inputMap.has(input)) at(where(node.name), `'${node.name}' takes the saved model's input '${input}', which this model does not have (its inputs: ${targetInputs.join(', ')})`);
        continue;
      }
      at(where(node.name), `'${node.name}' takes the output of '${input}', which is not kept; keep '${input}' too`);
    }
    if (sequential && problems.length === 0) {
      const expected = k === 0 ? graph.inputs : [keptNodes[k - 1]!.name];
      if (node.inputs.length !== 1 || !expected.includes(node.inputs[0]!)) {
        at(where(node.name), `a sequential model continues a chain: '${node.name}' does not take the output of ${k === 0 ? 'the input' : `'${keptNodes[k - 1]!.name}'`}`);
      }
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const listKey = sequential ? 'layers' : 'nodes';
  const keptConfigs: LayerNodeConfig[] = keptNodes.map((node) => {
    const { inputs: _inputs, ...rest } = node.config;
    return sequential ? { ...rest, name: node.name } : { ...rest, name: node.name, inputs: node.inputs.map((i) => inputMap.get(i) ?? i) };
  });
  const { from: _from, keep: _keep, ...config } = model;
  const own = (model[listKey] ?? []) as LayerNodeConfig[];
  const count = keptConfigs.length;
  return {
    config: { ...config, [listKey]: [...keptConfigs, ...own] } as Entry,
    kept: keptNodes.map((n) => n.name),
    keepIndex,
    translate: (path) => {
      if (path[0] !== 'model' || path[1] !== listKey || typeof path[2] !== 'number') return path;
      const index = path[2];
      return index < count ? ['model', ...where(keptNodes[index]!.name)] : ['model', listKey, index - count, ...path.slice(3)];
    },
  };
}

/** The experiment's source with diagnostics about the spliced model moved to where they are written. */
function translatingSource(source: ExperimentSource, translate: (path: PathSegment[]) => PathSegment[]): ExperimentSource {
  const translated = Object.create(source) as ExperimentSource;
  translated.diagnostic = (path, message, options) => source.diagnostic(translate(path), message, options);
  return translated;
}

/** The saved weights of the kept layers into the built model; a shape that no longer fits is a config error. */
function loadKeptWeights(model: TrainableModel, saved: SavedModel, splice: Splice, source: ExperimentSource, written: string): void {
  const savedWeights = readSavedWeights(saved.modelFolder, (message) => new ConfigError([source.diagnostic(['model', 'from'], `${written}: ${message}`)]));
  try {
    const state = model.state();
    const updates = new Map<string, tf.Tensor>();
    const problems: Diagnostic[] = [];
    for (const layer of splice.kept) {
      const path: PathSegment[] = ['model', ...(splice.keepIndex.has(layer) ? ['keep', splice.keepIndex.get(layer)!] : ['from'])];
      for (const [name, value] of savedWeights) {
        if (!name.startsWith(`${layer}/`)) continue;
        const current = state.get(name);
        if (current === undefined) {
          problems.push(source.diagnostic(path, `the saved weight '${name}' has no place in this model`));
        } else if (!tf.util.arraysEqual(current.shape, value.shape)) {
          problems.push(
            source.diagnostic(path, `layer '${layer}' no longer fits: its weight '${name}' is [${value.shape.join(', ')}] in the saved model but [${current.shape.join(', ')}] here (what feeds it has changed shape)`),
          );
        } else updates.set(name, value);
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    model.restore(new Map([...state, ...updates]));
  } finally {
    tf.dispose([...savedWeights.values()]);
  }
}

/** The weights of a saved Layers model (model.json + weights.bin) by name; damage is reported through `fail`. */
function readSavedWeights(folder: string, fail: (message: string) => Error): Map<string, tf.Tensor> {
  const jsonFile = join(folder, 'model.json');
  let manifest: { weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    manifest = JSON.parse(readFileSync(jsonFile, 'utf8')) as typeof manifest;
  } catch (error) {
    throw fail(`${jsonFile}: not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(manifest.weightsManifest)) throw fail(`${jsonFile}: has no weightsManifest`);
  const specs = manifest.weightsManifest.flatMap((group) => group.weights);
  const buffers: Buffer[] = [];
  for (const group of manifest.weightsManifest) {
    for (const path of group.paths) {
      const file = join(folder, path);
      if (!existsSync(file)) throw fail(`${file}: missing`);
      buffers.push(readFileSync(file));
    }
  }
  const data = Buffer.concat(buffers);
  const expected = specs.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (data.byteLength < expected) throw fail(`${join(folder, 'weights.bin')}: truncated at byte ${data.byteLength}; the manifest needs ${expected} bytes`);
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(new Uint8Array(data).buffer, specs);
  } catch (error) {
    throw fail(`the weights cannot be read: ${(error as Error).message}`);
  }
  return new Map(Object.entries(named));
}
