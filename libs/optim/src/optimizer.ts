import * as tf from '@tensorflow/tfjs';
import { RunError } from '@dlexp/core';
import type { Schedule } from './schedules';
import { UPDATE_COUNT_SLOT, type GradientTransform } from './transforms';

/** An optimizer as written, with every default filled in: `{type: adam, learningRate: 0.001, ...}`. */
export type OptimizerConfig = { type: string; [key: string]: unknown };

/** Reads one saved slot by name; undefined when the checkpoint has none by that name. */
export type SlotLoader = (slotName: string) => tf.Tensor | undefined;

/** One slot with the names it is saved under now and was saved under before. */
interface NamedSlot {
  /** `<variable>/<transform>/<slot>`. */
  name: string;
  /**
   * `<position in the chain>:<variable>/<slot>`, the name checkpoints written before slots were
   * keyed by transform name used.
   */
  legacyName: string;
  /** Groups the slots one transform keeps for one variable. */
  owner: string;
  slot: string;
  value: tf.Variable;
}

/**
 * Applies a chain of transforms to variables. Gradients are transformed in order and the last
 * transform's output is added to each variable. Slots are named by variable and transform name,
 * not by position, so saved state still fits when the chain changes length (clipping added in front).
 */
export class Optimizer {
  constructor(
    /** The resolved config this optimizer was built from; building from it again gives the same optimizer. */
    readonly config: OptimizerConfig,
    private readonly transforms: GradientTransform[],
    /** The learning rate at a 0-based global step. */
    readonly learningRate: Schedule,
  ) {
    const seen = new Set<string>();
    for (const t of transforms) {
      if (seen.has(t.name)) throw new Error(`two transforms named '${t.name}' in one optimizer chain; their slots would share names`);
      seen.add(t.name);
    }
  }

  get name(): string {
    return this.config.type;
  }

  /**
   * Updates in place the variables that have a gradient in `grads`. A variable without one is left
   * as it is, and so are its slots: no moment decays, no update is counted. `step` is the 0-based
   * global step; it sets the learning rate, while bias corrections count each variable's own updates.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, variables: ReadonlyMap<string, tf.Variable>, step: number): void {
    const present = new Map([...variables].filter(([name]) => grads.has(name)));
    for (const t of this.transforms) t.init(present);
    tf.tidy(() => {
      let current = new Map([...present.keys()].map((name) => [name, grads.get(name)!]));
      for (const t of this.transforms) current = t.update(current, present, step);
      for (const [name, update] of current) present.get(name)!.assign(tf.add(present.get(name)!, update));
    });
  }

  /** Every slot for these variables by `<variable>/<transform>/<slot>` (for checkpoints); creates missing ones. */
  slots(variables: ReadonlyMap<string, tf.Variable>): Map<string, tf.Variable> {
    return new Map(this.namedSlots(variables).map((s) => [s.name, s.value]));
  }

  /**
   * Restores every slot of these variables from a checkpoint. A slot is looked up by its name and
   * then by the positional name older checkpoints used (`<index>:<variable>/<slot>`). Those had no
   * update counts: every variable was updated on every step, so its count is `completedSteps`.
   * Nothing is assigned unless every slot is found with the right shape.
   */
  restoreSlots(variables: ReadonlyMap<string, tf.Variable>, load: SlotLoader, options: { completedSteps: number }): void {
    const slots = this.namedSlots(variables);
    const found = new Map<NamedSlot, tf.Tensor>();
    const legacyOwners = new Set<string>();
    for (const s of slots) {
      const current = load(s.name);
      const legacy = current === undefined ? load(s.legacyName) : undefined;
      if (legacy !== undefined) legacyOwners.add(s.owner);
      const saved = current ?? legacy;
      if (saved !== undefined) found.set(s, saved);
    }
    const missing: string[] = [];
    const problems: string[] = [];
    for (const s of slots) {
      const saved = found.get(s);
      if (saved === undefined) {
        if (!(s.slot === UPDATE_COUNT_SLOT && legacyOwners.has(s.owner))) missing.push(s.name);
      } else if (!tf.util.arraysEqual(saved.shape, s.value.shape)) {
        problems.push(`optimizer slot '${s.name}' has shape [${saved.shape.join(', ')}] in the checkpoint but [${s.value.shape.join(', ')}] here`);
      }
    }
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).map((n) => `'${n}'`).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
      problems.unshift(`the checkpoint has no optimizer slot ${shown}; was it written by another optimizer?`);
    }
    if (problems.length > 0) throw new RunError(problems.join('\n'));
    tf.tidy(() => {
      for (const s of slots) {
        const saved = found.get(s);
        s.value.assign(saved === undefined ? tf.scalar(options.completedSteps) : tf.cast(saved, s.value.dtype));
      }
    });
  }

  dispose(): void {
    for (const t of this.transforms) t.dispose();
  }

  private namedSlots(variables: ReadonlyMap<string, tf.Variable>): NamedSlot[] {
    for (const t of this.transforms) t.init(variables);
    return this.transforms.flatMap((t, index) =>
      t
        .slots()
        .filter((s) => variables.has(s.variable))
        .map((s) => ({
          name: `${s.variable}/${t.name}/${s.slot}`,
          legacyName: `${index}:${s.variable}/${s.slot}`,
          owner: `${index}:${s.variable}`,
          slot: s.slot,
          value: s.value,
        })),
    );
  }
}
