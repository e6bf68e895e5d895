import * as tf from '@tensorflow/tfjs';
import { fillEntry, param, type RegistryEntry } from '@dlexp/core';
import { buildOpGraph, GraphError, OpGraphError, Session, type Graph } from '@dlexp/graph';
import { ModelConfigError, type Batch, type MetricSums, type ModelContext, type TrainableModel } from './trainable-model';
import { decodeTensors, encodeTensors } from '../tensor-files';

export interface OpsModelConfig {
  placeholders: Record<string, { shape?: (number | null)[]; feature?: string }>;
  variables: Record<string, { shape: number[]; initializer: { type: string; [key: string]: unknown }; trainable: boolean }>;
  nodes: Record<string, string>;
  loss: string;
  fetch: string[];
  savePredictions?: string;
}

const name = '^[A-Za-z_][A-Za-z0-9_]*$';

/**
 * A model written as a graph of raw ops, as in the course's first lessons: placeholders fed from
 * the data, variables, and named nodes given as expressions.
 */
export const opsModel: RegistryEntry<OpsModelConfig, ModelContext, TrainableModel> = {
  name: 'ops',
  description: 'A TF1-style graph of raw ops: placeholders fed from data features, variables, and nodes written as expressions (k * x + b).',
  params: {
    placeholders: param.custom(
      {
        type: 'object',
        propertyNames: { pattern: name },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: {
            shape: { type: 'array', items: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] }, description: 'Expected shape; null is a size known only when fed (the batch).' },
            feature: { type: 'string', description: 'The data feature fed to it (default: the placeholder\'s own name).' },
          },
        },
      },
      { description: 'Values fed from the data each step, by name: {x: {shape: [null, 1]}}.', default: {} },
    ),
    variables: param.custom(
      {
        type: 'object',
        propertyNames: { pattern: name },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: {
            shape: { type: 'array', items: { type: 'integer', minimum: 1 }, description: 'Shape of the variable; [] (the default) is a scalar.', default: [] },
            initializer: { $ref: '#/$defs/initializer', description: 'Initial value, e.g. {type: zeros} or {type: randomNormal, stddev: 1}.' },
            trainable: { type: 'boolean', description: 'Whether the optimizer updates it.', default: true },
          },
        },
      },
      { description: 'State kept across steps, by name: {k: {initializer: {type: zeros}}}.', default: {} },
    ),
    nodes: param.custom(
      { type: 'object', propertyNames: { pattern: name }, additionalProperties: { type: 'string', minLength: 1 } },
      { description: 'Named nodes, each an expression over placeholders, variables and earlier nodes: {prediction: "k * x + b"}.', required: true },
    ),
    loss: param.string({ description: 'The node the optimizer minimizes (a scalar); reported as train.loss.', required: true }),
    fetch: param.stringList({ description: 'Scalar nodes logged every logged step and reported as metrics under their own names.', default: [] }),
    savePredictions: param.string({ description: 'A node whose values over the training inputs are saved as predictions.csv in the run directory.' }),
  },
  create(config, context) {
    const problems: { path: (string | number)[]; offset?: number; message: string }[] = [];
    const placeholders: Record<string, { shape?: (number | null)[] }> = {};
    const featureOf = new Map<string, string>();
    for (const [placeholder, spec] of Object.entries(config.placeholders)) {
      const feature = spec.feature ?? placeholder;
      if (!(feature in context.features)) {
        problems.push({ path: ['placeholders', placeholder], message: `the data has no feature '${feature}' (it has: ${Object.keys(context.features).join(', ')})` });
      }
      featureOf.set(placeholder, feature);
      placeholders[placeholder] = spec.shape === undefined ? {} : { shape: spec.shape };
    }
    const variables: Record<string, { initialValue: () => tf.Tensor; trainable: boolean }> = {};
    for (const [variable, spec] of Object.entries(config.variables)) {
      const initializerConfig = spec.initializer ?? { type: 'zeros' };
      const filled = fillEntry('initializer', initializerConfig, (_k, n) => context.modelRegistries.initializers.get(n).params) as Record<string, unknown>;
      const initializer = context.modelRegistries.initializers.get(initializerConfig.type).create(filled, { seed: context.seed, purpose: variable });
      variables[variable] = { initialValue: () => initializer(spec.shape ?? []), trainable: spec.trainable ?? true };
    }
    let graph: Graph;
    try {
      graph = buildOpGraph({ placeholders, variables, nodes: config.nodes });
    } catch (error) {
      if (error instanceof OpGraphError) throw new ModelConfigError([...problems, ...error.problems]);
      throw error;
    }
    // Names in loss, fetch and savePredictions are checked when the experiment is validated.
    if (problems.length > 0) {
      graph.dispose();
      throw new ModelConfigError(problems);
    }
    const session = new Session(graph);
    session.initializeVariables();
    const feedsOf = (batch: Batch) => {
      const feeds: Record<string, tf.Tensor> = {};
      for (const [placeholder, feature] of featureOf) {
        const value = batch[feature];
        if (value !== undefined) feeds[placeholder] = value;
      }
      return feeds;
    };
    const restore = (state: Map<string, tf.Tensor>) => {
      for (const [name, variable] of session.variables()) {
        const value = state.get(name);
        if (value === undefined) throw new ModelConfigError([{ path: ['variables', name], message: `the saved state has no value for variable '${name}'` }]);
        variable.assign(value);
      }
    };
    /** Where in the config a graph failure belongs: the node or placeholder it names, else the loss. */
    const pathOfFailure = (message: string): (string | number)[] => {
      for (const name of message.matchAll(/'([^']+)'/g)) {
        const node = name[1]!;
        if (node in config.placeholders) return ['placeholders', node];
        if (node in config.nodes) return ['nodes', node];
      }
      return ['loss'];
    };
    const model: TrainableModel = {
      explainFailure: (error) =>
        error instanceof GraphError ? new ModelConfigError([{ path: pathOfFailure(error.message), message: error.message }]) : undefined,
      trainableVariables: () => session.variables({ trainableOnly: true }),
      graphDef: () => graph.toGraphDef(),
      state: () => session.variables() as Map<string, tf.Tensor>,
      restore,
      exportFiles: async () => encodeTensors(session.variables()),
      importFiles: (files, folder) => {
        const saved = decodeTensors(files, folder);
        try {
          restore(saved);
        } finally {
          tf.dispose([...saved.values()]);
        }
      },
      lossAndGradients: (batch) => {
        const { value, grads } = session.gradients(config.loss, feedsOf(batch));
        return { loss: value, grads };
      },
      evaluateBatch: async (batch): Promise<MetricSums> => {
        const first = Object.values(batch)[0];
        const count = first === undefined ? 1 : first.shape[0] ?? 1;
        const [loss] = (await session.runAsync([config.loss], feedsOf(batch))) as [number];
        // The loss node is a mean over the batch, so weight it by the batch size.
        return { loss: { sum: loss * count, count } };
      },
      fetchedValues: async () => {
        const values = config.fetch.length === 0 ? [] : await session.runAsync(config.fetch);
        const out: Record<string, number> = {};
        config.fetch.forEach((node, i) => {
          const value = values[i];
          if (typeof value !== 'number') {
            throw new ModelConfigError([{ path: ['fetch', i], message: `'${node}' is not a scalar, so it cannot be reported as a metric` }]);
          }
          out[node] = value;
        });
        return out;
      },
      predictions: async (batch) => {
        if (config.savePredictions === undefined) return undefined;
        const columns: Record<string, number[]> = {};
        for (const [feature, tensor] of Object.entries(batch)) columns[feature] = Array.from(await tensor.data());
        const [values] = await session.runAsync([config.savePredictions], feedsOf(batch));
        columns[config.savePredictions] = tf.util.flatten(values as number[]) as number[];
        return { file: 'predictions.csv', columns };
      },
      dispose: () => {
        session.close();
        graph.dispose();
      },
    };
    return model;
  },
};
