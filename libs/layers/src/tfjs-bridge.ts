/**
 * Adapters that let tfjs-layers use this library's seeded initializers, regularizers and
 * activations. tfjs-layers checks these with `instanceof` against base classes it does not export,
 * so the base classes are found through classes it registers for deserialization.
 */
import * as tf from '@tensorflow/tfjs';
import { fillDefaults } from '@dlexp/core';
import { createActivationRegistry, type Activation } from './activations';
import { SeededDropout } from './dropout';
import { createInitializerRegistry, type Initializer, type InitializerRegistry } from './initializers';
import {
  createRegularizerRegistry,
  type Regularizer,
  type RegularizerConfig,
  type RegularizerRegistry,
} from './regularizers';

type TfInitializer = ReturnType<typeof tf.initializers.ones>;
type TfRegularizer = ReturnType<typeof tf.regularizers.l1>;
type TfActivation = ReturnType<typeof tf.layers.activation>['activation'];
type ConfigDict = tf.serialization.ConfigDict;

/** An initializer as written in YAML: `{type: truncatedNormal, stddev: 0.1}`. */
export interface InitializerConfig {
  type: string;
  [param: string]: unknown;
}

/** The base class of a class tfjs-layers registers under `className`. */
function baseClassOf(className: string): unknown {
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (registered === undefined) throw new Error(`tfjs-layers does not register '${className}'; its version is unsupported`);
  return Object.getPrototypeOf(registered[0]);
}

const InitializerBase = baseClassOf('Ones') as abstract new () => TfInitializer;
const RegularizerBase = baseClassOf('L1L2') as abstract new () => TfRegularizer;
const ActivationBase = baseClassOf('relu') as abstract new () => TfActivation;

function splitEntry(config: { type: string; [k: string]: unknown }): [string, Record<string, unknown>] {
  const { type, ...params } = config;
  return [type, params];
}

interface SeededInitializerConfig {
  initializer: InitializerConfig;
  seed: number;
  purpose: string;
  /**
   * For an LSTM bias laid out as [input, forget, cell, output] gates: add 1 to the forget gate's
   * part. Done here because tfjs' own `unitForgetBias` leaks tensors each time it initializes.
   */
  unitForgetBias?: boolean;
}

function instantiateInitializer(registry: InitializerRegistry, config: SeededInitializerConfig, purpose: string): Initializer {
  const [type, written] = splitEntry(config.initializer);
  const entry = registry.get(type);
  return entry.create(fillDefaults(entry.params, written, () => undefined), { seed: config.seed, purpose });
}

/**
 * One weight's initializer: the seed comes from (run seed, `purpose` = "layer/weight"), so every
 * weight of every layer draws its own, reproducible values. Its config names the registry entry,
 * so a saved model topology reloads with the same initializer.
 */
export class SeededInitializer extends InitializerBase {
  static readonly className = 'SeededInitializer';
  private readonly config: SeededInitializerConfig;
  private readonly registry: InitializerRegistry;
  private calls = 0;

  constructor(config: SeededInitializerConfig, registry?: InitializerRegistry) {
    super();
    this.config = config;
    this.registry = registry ?? createInitializerRegistry();
  }

  override apply(shape: number[]): tf.Tensor {
    // tfjs' LSTM draws its bias in three pieces with one initializer; numbering the calls keeps
    // the pieces from repeating one another while the sequence stays reproducible.
    const purpose = this.calls === 0 ? this.config.purpose : `${this.config.purpose}#${this.calls}`;
    this.calls++;
    const value = instantiateInitializer(this.registry, this.config, purpose)(shape);
    if (this.config.unitForgetBias !== true || shape.length !== 1) return value;
    const units = shape[0]! / 4;
    return tf.tidy(() => {
      const forget = tf.concat([tf.zeros([units]), tf.ones([units]), tf.zeros([2 * units])]);
      const result = tf.add(value, forget);
      value.dispose();
      return result;
    });
  }

  override getConfig(): ConfigDict {
    return { ...this.config } as unknown as ConfigDict;
  }
}

/** The tfjs initializer for one weight of one layer. */
export function seededInitializer(
  config: InitializerConfig,
  seed: number,
  purpose: string,
  registry: InitializerRegistry,
  options: { unitForgetBias?: boolean } = {},
): TfInitializer {
  const seeded: SeededInitializerConfig = { initializer: config, seed, purpose };
  if (options.unitForgetBias === true) seeded.unitForgetBias = true;
  return new SeededInitializer(seeded, registry);
}

/** A regularizer of our registry in the form tfjs-layers accepts as `kernelRegularizer`. */
export class RegistryRegularizer extends RegularizerBase {
  static readonly className = 'RegistryRegularizer';
  private readonly config: { regularizer: RegularizerConfig };
  private readonly fn: Regularizer;

  constructor(config: { regularizer: RegularizerConfig }, registry?: RegularizerRegistry) {
    super();
    this.config = config;
    const [type, written] = splitEntry(config.regularizer);
    const entry = (registry ?? createRegularizerRegistry()).get(type);
    this.fn = entry.create(fillDefaults(entry.params, written, () => undefined), {});
  }

  override apply(x: tf.Tensor): tf.Scalar {
    return this.fn(x);
  }

  override getConfig(): ConfigDict {
    return { ...this.config } as unknown as ConfigDict;
  }
}

export function tfjsRegularizer(
  config: RegularizerConfig | undefined,
  registry: RegularizerRegistry,
): TfRegularizer | undefined {
  return config === undefined ? undefined : new RegistryRegularizer({ regularizer: config }, registry);
}

// tfjs serializes an activation as its class name alone, so each activation gets a class whose
// name is the registry name. For the names tfjs also knows (relu, tanh, ...) that name reloads
// as tfjs' own, identical function.
const activationClasses = new WeakMap<Activation, new () => TfActivation>();

function activationClass(name: string, fn: Activation): new () => TfActivation {
  let cls = activationClasses.get(fn);
  if (cls === undefined) {
    cls = class extends ActivationBase {
      static readonly className = name;
      override apply(x: tf.Tensor): tf.Tensor {
        return fn(x);
      }
      override getConfig(): ConfigDict {
        return {};
      }
    };
    activationClasses.set(fn, cls);
  }
  return cls;
}

type TfActivationArg = NonNullable<Parameters<typeof tf.layers.dense>[0]['activation']>;

/**
 * The value to pass as a tfjs layer's `activation`. Its typings allow only built-in names, but at
 * run time it accepts any Activation instance, which lets layers use this library's registry.
 */
export function tfjsActivation(name: string, fn: Activation): TfActivationArg {
  const Cls = activationClass(name, fn);
  return new Cls() as unknown as TfActivationArg;
}

/**
 * Registers this library's tfjs classes (seeded initializer, regularizer, dropout, activations
 * tfjs lacks) for deserialization, so a saved model topology can be loaded again. Idempotent.
 */
export function registerSerializables(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  const activations = createActivationRegistry();
  for (const name of activations.names()) {
    if (map[name] === undefined) {
      tf.serialization.registerClass(activationClass(name, activations.get(name).create({}, {})) as never);
    }
  }
  for (const cls of [SeededInitializer, RegistryRegularizer, SeededDropout]) {
    tf.serialization.registerClass(cls as never);
  }
}
