import type { TrainConfig } from '@dlexp/config';
import type { TrainableModel } from '../models/trainable-model';

type MultiTask = NonNullable<TrainConfig['multiTask']>;

/**
 * The heads a step trains, as a function of the step alone, so a resumed run picks up the cycle
 * exactly where it stopped. `undefined` means every head at once (joint training, or a model
 * with a single head): the loss is then the sum of the heads' losses, each times its weight.
 */
export type HeadSchedule = (step: number) => readonly string[] | undefined;

/**
 * Alternating training cycles through `schedule` (default: each head for one step, in order):
 * entry i trains its heads for `steps` steps, then the next entry, and after the last the first.
 */
export function headSchedule(multiTask: MultiTask | undefined, heads: readonly string[]): HeadSchedule {
  if (multiTask === undefined || multiTask.mode === 'joint') return () => undefined;
  const entries = multiTask.schedule ?? heads.map((head) => ({ heads: [head], steps: 1 }));
  const spans = entries.map((e) => ({ heads: e.heads, steps: e.steps ?? 1 }));
  const cycle = spans.reduce((total, e) => total + e.steps, 0);
  return (step) => {
    let at = step % cycle;
    for (const span of spans) {
      if (at < span.steps) return span.heads;
      at -= span.steps;
    }
    return spans[spans.length - 1]!.heads;
  };
}

/**
 * What `train.multiTask` gets wrong for this model, each at its path under `train`: a model
 * without several heads, a schedule in joint mode, heads that do not exist, heads never trained.
 */
export function multiTaskProblems(multiTask: MultiTask | undefined, model: Pick<TrainableModel, 'heads'>): { path: (string | number)[]; message: string }[] {
  if (multiTask === undefined) return [];
  const heads = model.heads?.() ?? [];
  if (heads.length < 2) {
    return [{ path: ['multiTask'], message: `multi-task training needs a model with several heads (a graph model with several outputs); this one has ${heads.length === 0 ? 'none' : `one (${heads[0]})`}` }];
  }
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (multiTask.mode === 'joint' && multiTask.schedule !== undefined) {
    problems.push({ path: ['multiTask', 'schedule'], message: 'a schedule is for mode: alternating; joint training trains every head at every step' });
  }
  const trained = new Set<string>();
  (multiTask.schedule ?? []).forEach((entry, i) =>
    entry.heads.forEach((head, j) => {
      if (heads.includes(head)) trained.add(head);
      else problems.push({ path: ['multiTask', 'schedule', i, 'heads', j], message: `no head named '${head}' (heads: ${heads.join(', ')})` });
    }),
  );
  const never = heads.filter((h) => !trained.has(h));
  if (multiTask.mode === 'alternating' && multiTask.schedule !== undefined && never.length > 0 && problems.length === 0) {
    problems.push({ path: ['multiTask', 'schedule'], message: `the schedule never trains ${never.join(', ')}` });
  }
  return problems;
}
