import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentSource } from '@dlexp/config';
import type { LaunchRequest, LaunchStatus } from './api';
import { listExperiments } from './experiments';
import type { Logdir } from './logdir';

/** How to start the runner CLI: the program and the arguments before the experiment file. */
export interface RunnerCommand {
  command: string;
  args: string[];
  /** The folder it runs in (relative paths of its messages are relative to it). */
  cwd: string;
}

/** Where copies of experiments written in the page are saved: a hidden folder, so listings skip it. */
export const LAUNCHED_FOLDER = '.dashboard';

/** The most text a launch request may carry: an experiment file is a few kilobytes. */
export const MAX_EXPERIMENT_BYTES = 1_000_000;

const OUTPUT_LINES = 200;

interface Launch {
  status: LaunchStatus;
  child: ChildProcess;
  exited: Promise<void>;
}

export class LaunchError extends Error {}

function stamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** A name safe as one path segment: letters, digits, dot, dash and underscore. */
export function safeSegment(name: string, fallback: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 80);
  return cleaned === '' ? fallback : cleaned;
}

/** The experiment's `name:`, when its text parses; the runner reports any problem itself. */
function experimentName(yaml: string, fileName: string): string | undefined {
  try {
    const name = ExperimentSource.parse(yaml, fileName).toData()['name'];
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts runs on this machine: each launch runs the runner CLI as a child process that writes a
 * normal run folder under the log folder (`<name>/<time>-web/`), so it appears in the run list
 * like any other. What the page wrote is saved under `.dashboard/` first; an example experiment
 * sent unchanged runs from its own file, so its relative paths (extends, data files) still hold.
 */
export class Launcher {
  private readonly launches = new Map<string, Launch>();
  private count = 0;

  constructor(
    private readonly logdir: Logdir,
    private readonly runner: RunnerCommand,
    private readonly experimentsDir?: string,
  ) {}

  /** Starts a run and answers once its folder exists or the runner has exited (an invalid experiment exits at once). */
  async launch(request: LaunchRequest, options: { waitMs?: number } = {}): Promise<LaunchStatus> {
    const { yaml, fileName } = checkRequest(request);
    const now = new Date();
    const file = this.experimentFile(request, yaml, fileName, now);
    const name = safeSegment(experimentName(yaml, fileName) ?? fileName.replace(/\.ya?ml$/i, ''), 'experiment');
    let out = join(this.logdir.root, name, `${stamp(now)}-web`);
    for (let n = 2; existsSync(out); n++) out = join(this.logdir.root, name, `${stamp(now)}-web${n}`);
    const args = [...this.runner.args, file, '--out', out, ...(request.quick === true ? ['--quick'] : []), ...(request.backend !== undefined ? ['--backend', request.backend] : [])];
    const child = spawn(this.runner.command, args, { cwd: this.runner.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const id = `launch-${++this.count}`;
    const status: LaunchStatus = { id, state: 'starting', path: this.logdir.relativeOf(out), output: [], startedAt: now.toISOString() };
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') status.output.push(line.replace(/\r/g, ''));
      if (status.output.length > OUTPUT_LINES) status.output.splice(0, status.output.length - OUTPUT_LINES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => {
      child.on('error', (error) => {
        status.output.push(`could not start the runner: ${error.message}`);
        status.state = 'exited';
        status.exitCode = null;
        resolve();
      });
      child.on('exit', (code) => {
        status.state = 'exited';
        status.exitCode = code;
        resolve();
      });
    });
    this.launches.set(id, { status, child, exited });
    await this.startedOrExited(status, out, exited, options.waitMs ?? 300_000);
    return { ...status, output: [...status.output] };
  }

  private experimentFile(request: LaunchRequest, yaml: string, fileName: string, now: Date): string {
    if (request.experiment !== undefined && this.experimentsDir !== undefined) {
      const listed = listExperiments(this.experimentsDir).find((e) => e.file === request.experiment);
      const original = listed === undefined ? undefined : join(this.experimentsDir, listed.file);
      if (original !== undefined && readFileSync(original, 'utf8') === yaml) return original;
    }
    const folder = join(this.logdir.root, LAUNCHED_FOLDER);
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${stamp(now)}-${safeSegment(fileName, 'experiment.yaml')}`);
    writeFileSync(file, yaml);
    return file;
  }

  private async startedOrExited(status: LaunchStatus, out: string, exited: Promise<void>, waitMs: number): Promise<void> {
    const started = () => existsSync(join(out, 'config.resolved.yaml')) || existsSync(join(out, 'trials'));
    const deadline = Date.now() + waitMs;
    let done = false;
    void exited.then(() => (done = true));
    while (!done && !started() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (status.state === 'starting' && started()) status.state = 'running';
    if (started()) status.kind = existsSync(join(out, 'trials')) ? 'sweep' : 'run';
  }

  list(): LaunchStatus[] {
    return [...this.launches.values()].map(({ status }) => {
      const out = join(this.logdir.root, status.path);
      if (existsSync(join(out, 'trials'))) status.kind = 'sweep';
      else if (existsSync(join(out, 'config.resolved.yaml'))) status.kind = 'run';
      if (status.state === 'starting' && status.kind !== undefined) status.state = 'running';
      return { ...status, output: [...status.output] };
    });
  }

  /**
   * Asks every run still going to stop (SIGTERM: the runner saves a checkpoint, marks the run
   * interrupted and exits; `runner resume` continues it), and waits for them to exit.
   */
  async stopAll(): Promise<void> {
    const running = [...this.launches.values()].filter((l) => l.status.state !== 'exited');
    for (const launch of running) launch.child.kill('SIGTERM');
    await Promise.all(running.map((l) => l.exited));
  }
}

function checkRequest(request: LaunchRequest): { yaml: string; fileName: string } {
  if (typeof request !== 'object' || request === null) throw new LaunchError('expected a JSON object {yaml, fileName, quick?, backend?, experiment?}');
  const { yaml, fileName, quick, backend, experiment } = request as unknown as Record<string, unknown>;
  if (typeof yaml !== 'string' || yaml.trim() === '') throw new LaunchError('yaml: expected the experiment\'s text');
  if (yaml.length > MAX_EXPERIMENT_BYTES) throw new LaunchError(`yaml: longer than ${MAX_EXPERIMENT_BYTES} characters`);
  if (typeof fileName !== 'string' || !/^[^/\\\0]{1,120}$/.test(fileName)) throw new LaunchError('fileName: expected a file name without folders');
  if (quick !== undefined && typeof quick !== 'boolean') throw new LaunchError('quick: expected true or false');
  if (backend !== undefined && (typeof backend !== 'string' || !/^[a-z][a-z0-9-]{0,30}$/.test(backend))) throw new LaunchError('backend: expected a backend name');
  if (experiment !== undefined && typeof experiment !== 'string') throw new LaunchError('experiment: expected a file name');
  return { yaml, fileName };
}
