import { buildOpGraph, Session, type FetchedValue } from '@dlexp/graph';
import type { LoadedExperiment } from '@dlexp/config';
import { readSweep, readTrialRuns, sweepFigures, writeFigures, type SurfaceGrid } from '@dlexp/plots';
import { canonicalJson, type TrialRecord } from '@dlexp/sweep';

interface OpsObjective {
  /** The two scalar variables, in the order they are declared: the path's x and y. */
  x: string;
  y: string;
  nodes: Record<string, string>;
  loss: string;
}

type Plain = Record<string, unknown>;
const isRecord = (value: unknown): value is Plain => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The surface a trial minimizes directly: an ops model on the `objective` dataset (no data) whose
 * two scalar variables are both fetched, so metrics.jsonl holds its path. Undefined otherwise.
 */
function objectiveOf(experiment: unknown): OpsObjective | undefined {
  if (!isRecord(experiment) || !isRecord(experiment['data']) || experiment['data']['type'] !== 'objective') return undefined;
  const model = experiment['model'];
  if (!isRecord(model) || model['type'] !== 'ops' || !isRecord(model['variables']) || !isRecord(model['nodes']) || typeof model['loss'] !== 'string') return undefined;
  const fetch = Array.isArray(model['fetch']) ? model['fetch'] : [];
  const scalars = Object.entries(model['variables'])
    .filter(([, v]) => !isRecord(v) || v['shape'] === undefined || (Array.isArray(v['shape']) && v['shape'].length === 0))
    .map(([name]) => name);
  if (scalars.length !== 2 || !scalars.every((name) => fetch.includes(name))) return undefined;
  return { x: scalars[0]!, y: scalars[1]!, nodes: model['nodes'] as Record<string, string>, loss: model['loss'] };
}

/**
 * The loss over a grid of (x, y): the model's nodes built with its two variables as placeholders
 * and fed every grid point at once. Undefined when the loss is not elementwise in x and y.
 */
function surfaceOf(objective: OpsObjective, range: { x: [number, number]; y: [number, number] }, samples = 61): SurfaceGrid | undefined {
  const steps = ([from, to]: [number, number]) => Array.from({ length: samples }, (_, i) => from + ((to - from) * i) / (samples - 1));
  const xs = steps(range.x);
  const ys = steps(range.y);
  const gridX = ys.flatMap(() => xs);
  const gridY = ys.flatMap((y) => xs.map(() => y));
  const graph = buildOpGraph({ placeholders: { [objective.x]: {}, [objective.y]: {} }, variables: {}, nodes: objective.nodes });
  const session = new Session(graph);
  let heights: FetchedValue;
  try {
    heights = session.run(objective.loss, { [objective.x]: gridX, [objective.y]: gridY });
  } finally {
    session.close();
    graph.dispose();
  }
  if (!Array.isArray(heights) || heights.length !== gridX.length || heights.some((h) => typeof h !== 'number')) return undefined;
  const flat = heights as number[];
  // Surfaces such as Rosenbrock's span orders of magnitude: contours of log(1 + z) show the valley.
  const logScale = flat.every((h) => !Number.isFinite(h) || h >= 0) && Math.max(...flat.filter(Number.isFinite)) > 100;
  const values = ys.map((_, j) => xs.map((_, i) => (logScale ? Math.log1p(flat[j * samples + i]!) : flat[j * samples + i]!)));
  return { xs, ys, values };
}

/**
 * For a sweep of optimizers minimizing surfaces directly (see objectiveOf): one figure per
 * surface, `plots/trajectories-<loss node>.svg`, with every trial's path over the contours of its
 * loss. Returns the figures written.
 */
export async function writeTrajectoryPlots(out: string, experiment: LoadedExperiment, records: readonly TrialRecord[], warn: (message: string) => void): Promise<string[]> {
  if (objectiveOf(experiment.resolved) === undefined) return [];
  const groups = new Map<string, { objective: OpsObjective; ids: string[] }>();
  for (const record of records) {
    const objective = objectiveOf(record.spec.experiment);
    if (objective === undefined) continue;
    const key = canonicalJson(objective);
    const group = groups.get(key) ?? { objective, ids: [] };
    group.ids.push(record.spec.trialId);
    groups.set(key, group);
  }
  if (groups.size === 0) return [];
  const sweep = readSweep(out);
  const { runs } = readTrialRuns(sweep);
  const losses = [...groups.values()].map((g) => g.objective.loss);
  const figures = [];
  for (const [index, { objective, ids }] of [...groups.values()].entries()) {
    const points = ids.flatMap((id) => runs.get(id)?.rows ?? []).flatMap((row) => {
      const x = row[objective.x];
      const y = row[objective.y];
      return x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) ? [[x, y] as const] : [];
    });
    if (points.length === 0) continue;
    // The area most of the path lies in: a path that diverges in two steps (a learning rate too
    // large for Rosenbrock) would otherwise shrink the rest to a dot; the plot clips it.
    const span = (values: number[]): [number, number] => {
      const sorted = [...values].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      const low = Math.min(at(0.01), values[0]!);
      const high = Math.max(at(0.99), values[0]!);
      const pad = Math.max(0.15 * (high - low), 0.25);
      return [low - pad, high + pad];
    };
    const surface = surfaceOf(objective, { x: span(points.map((p) => p[0])), y: span(points.map((p) => p[1])) });
    if (surface === undefined) {
      warn(`the loss '${objective.loss}' is not elementwise in ${objective.x} and ${objective.y}, so its surface cannot be drawn`);
      continue;
    }
    const label = losses.filter((l) => l === objective.loss).length > 1 ? `${objective.loss}-${index + 1}` : objective.loss;
    const subset = { ...sweep, trials: sweep.trials.filter((t) => ids.includes(t.id)) };
    for (const figure of sweepFigures(subset, runs, { trajectory: { x: objective.x, y: objective.y, surface } })) {
      if (figure.name === 'trajectories') figures.push({ ...figure, name: `trajectories-${label}`, title: `Paths over ${label}` });
    }
  }
  const written = await writeFigures(out, figures, { onWarning: warn });
  return written.figures;
}
