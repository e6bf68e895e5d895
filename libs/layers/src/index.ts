/**
 * @dlexp/layers: the registries of model parts (layers, activations, initializers, regularizers,
 * losses, metrics) and the builder that turns a model config into a tf.LayersModel.
 *
 * A sequential model chains its layers:
 *
 *   model:
 *     input: {shape: [28, 28, 1], feature: image}      # feature defaults to 'x'
 *     layers:
 *       - {type: conv2d, filters: 32, kernelSize: 5, padding: same, activation: relu}
 *       - {type: maxPool, poolSize: 2}
 *       - {type: flatten}
 *       - {type: dense, units: 1024, activation: relu}
 *       - {type: dropout, rate: 0.5}
 *       - {type: dense, units: 10, name: logits}
 *
 * A graph model names its inputs, wires nodes by name and names its outputs (heads); a node
 * without `inputs` takes the node listed before it:
 *
 *   model:
 *     inputs: {image: {shape: [784]}}                   # feature defaults to the input's name
 *     nodes:
 *       - {type: dense, name: trunk, units: 128, activation: relu, inputs: [image]}
 *       - {type: dense, name: digitLogits, units: 10, inputs: [trunk]}
 *       - {type: dense, name: parityLogits, units: 1, inputs: [trunk]}
 *     outputs: {digit: digitLogits, parity: parityLogits}
 *
 * Layer nodes accept `name`, `inputs` and `trainable` besides their own parameters
 * (`layerNodeFields`). Seeds: every weight is initialized from (run seed, layer name, weight name);
 * every dropout mask from (run seed, layer name, step), with the step read from the
 * `RandomContext` the train loop advances (`built.random.step = step`). Call the model with
 * `model.apply(x, {training: true})` while training so dropout and batchNorm act.
 */
export { createInitializerRegistry, fans } from './initializers';
export type { Initializer, InitializerContext, InitializerRegistry } from './initializers';

export { createActivationRegistry } from './activations';
export type { Activation, ActivationContext, ActivationRegistry } from './activations';

export { createRegularizerRegistry, regularizationPenalty } from './regularizers';
export type { Regularizer, RegularizerConfig, RegularizerContext, RegularizerRegistry } from './regularizers';

export { createLayerRegistry } from './layers';
export { Lstm, lstmComposed } from './lstm';
export type { LstmArgs } from './lstm';
export type { LayerContext, LayerRegistry } from './layers';

export { attachRandomContext, createRandomContext, SeededDropout } from './dropout';
export type { RandomContext, SeededDropoutArgs } from './dropout';

export { createLossRegistry } from './losses';
export type { Loss, LossContext, LossRegistry } from './losses';

export { allCorrect, createMetricRegistry, MetricAccumulator } from './metrics';
export type { Metric, MetricBatch, MetricContext, MetricRegistry } from './metrics';

export {
  buildModel,
  createModelRegistries,
  defaultLayerName,
  outputDependencies,
  graphModelParams,
  layerNodeFields,
  sequentialModelParams,
  trainableVariables,
} from './model';
export type {
  BuildContext,
  BuiltModel,
  GraphModelConfig,
  LayerNodeConfig,
  LayerNodeFields,
  ModelConfig,
  ModelInputConfig,
  ModelRegistries,
  SequentialModelConfig,
} from './model';

export { formatModelSummary, modelSummary } from './summary';
export type { ModelSummary, SummaryRow } from './summary';

export { registerSerializables, RegistryRegularizer, SeededInitializer } from './tfjs-bridge';
export type { InitializerConfig } from './tfjs-bridge';
export { modelGraphDef } from './graph-def';
