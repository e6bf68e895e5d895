// The inferred-tasks half of the plugin: one Nx project per experiment file, with cacheable
// `train`, `quick` and `validate` targets whose inputs are everything the run depends on.
import { basename, dirname, extname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readExperiment } from './read-experiment.js';

/** The experiment files Nx hands to createNodes; Nx itself leaves out git-ignored files (node_modules, runs/). */
export const EXPERIMENT_FILES = '**/experiments/*.{yaml,yml}';

/** Folders no experiment is read from, even when git does not ignore them. */
const SKIPPED_SEGMENTS = new Set(['node_modules', 'runs', '.nx']);

/**
 * @typedef {object} ExperimentPluginOptions
 * @property {string} [projectPrefix] project names are `<prefix><experiment name>` (default `exp-`)
 * @property {string} [outputDirectory] run directories go to `<outputDirectory>/<name>/<target>/`
 *   (default `runs/nx`; it must lie under `runs/`, the folder the target may empty)
 * @property {string} [runnerProject] the Nx project of the runner CLI; experiments depend on it,
 *   so its sources and those of every library it imports are inputs (default `runner`)
 * @property {string} [runner] the runner's executable script (default `apps/runner/bin/runner.js`)
 */

/** @typedef {Required<ExperimentPluginOptions>} ResolvedOptions */
/** @typedef {import('nx/src/config/workspace-json-project-json').ProjectConfiguration} ProjectConfiguration */
/** @typedef {import('nx/src/config/workspace-json-project-json').TargetConfiguration} TargetConfiguration */
/** @typedef {import('nx/src/config/workspace-json-project-json').InputDefinition | string} Input */
/** @typedef {import('./read-experiment.js').ExperimentFacts} ExperimentFacts */

/** @type {ResolvedOptions} */
const DEFAULTS = { projectPrefix: 'exp-', outputDirectory: 'runs/nx', runnerProject: 'runner', runner: 'apps/runner/bin/runner.js' };

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * This plugin's own files that shape a target's result: workspace paths, or absolute paths when
 * the plugin is installed outside the workspace.
 * @param {string} workspaceRoot
 */
export function pluginPaths(workspaceRoot) {
  const fromRoot = relative(workspaceRoot, dirname(HERE));
  const folder = fromRoot === '..' || fromRoot.startsWith(`..${sep}`) || isAbsolute(fromRoot) ? dirname(HERE) : fromRoot.split(sep).join('/');
  return { folder, runTarget: `${folder}/run-target.js`, identity: `${folder}/identity.js` };
}

/**
 * Quotes an argument for the shell Nx runs commands and runtime inputs in, only when it needs it.
 * @param {string} text
 */
export function shellQuote(text) {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command of the target: the wrapper empties the run directory and the JUnit file, then runs the runner.
 * @param {{ runTarget: string }} paths
 * @param {string} runner
 * @param {string[]} args
 */
function runnerCommand(paths, runner, args) {
  return ['node', paths.runTarget, runner, ...args].map(shellQuote).join(' ');
}

/**
 * The project of one experiment.
 * @param {ExperimentFacts} experiment
 * @param {ResolvedOptions} options
 * @param {string} workspaceRoot
 * @returns {ProjectConfiguration & { name: string }}
 */
export function experimentProject(experiment, options, workspaceRoot) {
  const paths = pluginPaths(workspaceRoot);
  const { name, file } = experiment;
  const runs = `${options.outputDirectory}/${name}`;
  /** @type {(...args: string[]) => Input} */
  const identity = (...args) => ({ runtime: ['node', paths.identity, ...args].map(shellQuote).join(' ') });
  const sources = [
    ...experiment.chain.map((f) => `{workspaceRoot}/${f}`),
    ...experiment.plugins.map((f) => `{workspaceRoot}/${f}`),
    // The workspace's package.json may name plugins every experiment loads ("dlexp": {"plugins": [...]}).
    '{workspaceRoot}/package.json',
    ...(isAbsolute(paths.runTarget) ? [] : [`{workspaceRoot}/${paths.runTarget}`]),
  ];
  /** @type {Input[]} */
  const data = [
    ...experiment.data.files.map((f) => `{workspaceRoot}/${f}`),
    ...experiment.data.packages.map((p) => identity('package', p)),
    ...experiment.data.outside.map((p) => identity('files', p)),
  ];
  // The code that runs: the runner and every library it imports (through the project graph),
  // without their tests, and the exact versions of every npm package.
  /** @type {Input[]} */
  const code = ['^production', '{workspaceRoot}/package-lock.json'];
  // The backend is part of the result: the one asked for, and the ones installed for `auto` to pick.
  /** @type {Input[]} */
  const backend = [{ env: 'DLEXP_BACKEND' }, identity('backends')];
  /** @type {(target: string, extra: string[], description: string) => TargetConfiguration} */
  const runTarget = (target, extra, description) => {
    const out = `${runs}/${target}`;
    const junit = `${runs}/${target}.junit.xml`;
    return {
      executor: 'nx:run-commands',
      options: { command: runnerCommand(paths, options.runner, [file, ...extra, '--out', out, '--junit', junit]), cwd: '{workspaceRoot}' },
      cache: true,
      inputs: ['experiment', ...code, ...backend],
      outputs: [`{workspaceRoot}/${out}`, `{workspaceRoot}/${junit}`],
      metadata: { description, technologies: ['dlexp'] },
    };
  };
  return {
    name: `${options.projectPrefix}${name}`,
    // One folder per experiment, beside its file: projects need a root of their own, and
    // several experiments share the experiments/ folder.
    root: `${dirname(file) === '.' ? '' : `${dirname(file)}/`}${basename(file, extname(file))}`,
    projectType: 'application',
    tags: ['type:experiment'],
    implicitDependencies: [options.runnerProject],
    namedInputs: { experiment: [...sources, ...data] },
    metadata: {
      description: experiment.description ?? `the experiment ${file}`,
      technologies: ['dlexp'],
      experiment: {
        file,
        name,
        nameFrom: experiment.nameFrom,
        sweep: experiment.sweep,
        extends: experiment.chain.slice(1),
        plugins: experiment.plugins,
        ...(experiment.dataset !== undefined ? { dataset: experiment.dataset } : {}),
        // What could not be read here; the validate target reports it in full, with positions.
        ...(experiment.problems.length > 0 ? { problems: experiment.problems } : {}),
      },
    },
    targets: {
      train: runTarget('train', [], `Run ${file} in full${experiment.sweep ? ' (every trial of its sweep)' : ''} and check expect:`),
      quick: runTarget('quick', ['--quick'], `Run ${file} with --quick${experiment.sweep ? ' (every trial of its sweep)' : ''} and check quick.expect:`),
      validate: {
        executor: 'nx:run-commands',
        options: { command: runnerCommand(paths, options.runner, ['validate', file]), cwd: '{workspaceRoot}' },
        cache: true,
        inputs: [...sources, ...code, { env: 'DLEXP_BACKEND' }],
        outputs: [],
        metadata: { description: `Check ${file} (and its --quick form${experiment.sweep ? ', and every trial' : ''}) without training`, technologies: ['dlexp'] },
      },
    },
  };
}

/**
 * @param {ExperimentPluginOptions | undefined} options
 * @returns {ResolvedOptions}
 */
function normalizeOptions(options) {
  const resolved = { ...DEFAULTS, ...(options ?? {}) };
  const out = resolved.outputDirectory.replace(/\/+$/, '');
  if (!(out === 'runs' || out.startsWith('runs/')) || out.split('/').includes('..')) {
    throw new Error(`nx-experiments: outputDirectory must be a folder under runs/ (the targets empty it before each run), got '${resolved.outputDirectory}'`);
  }
  return { ...resolved, outputDirectory: out };
}

/**
 * Nx's createNodes: the experiment files → one project each. Two files naming the same experiment
 * is an error that names both (project names must be unique, and so must run folders).
 * @type {import('nx/src/project-graph/plugins/public-api').CreateNodesFunction<ExperimentPluginOptions>}
 */
export function createExperimentNodes(files, options, context) {
  const resolved = normalizeOptions(options);
  const experiments = files
    .filter((file) => !file.split('/').some((segment) => SKIPPED_SEGMENTS.has(segment)))
    .map((file) => readExperiment(context.workspaceRoot, file));
  /** @type {Map<string, ExperimentFacts[]>} */
  const byName = new Map();
  for (const experiment of experiments) byName.set(experiment.name, [...(byName.get(experiment.name) ?? []), experiment]);
  const clashes = [...byName.values()].filter((list) => list.length > 1);
  if (clashes.length > 0) {
    const lines = clashes.map((list) => `  '${list[0]?.name}' is the name of ${list.map((e) => `${e.file} (from its ${e.nameFrom === 'name' ? 'name: key' : 'file name'})`).join(' and ')}`);
    throw new Error(`nx-experiments: experiment names must be unique (each is an Nx project ${resolved.projectPrefix}<name> and a run folder); rename one of each:\n${lines.join('\n')}`);
  }
  return experiments.map((experiment) => {
    const project = experimentProject(experiment, resolved, context.workspaceRoot);
    return /** @type {const} */ ([experiment.file, { projects: { [project.root]: project } }]);
  });
}

/**
 * The plugin as Nx loads it (`plugins` in nx.json).
 * @type {import('nx/src/project-graph/plugins/public-api').CreateNodes<ExperimentPluginOptions>}
 */
export const createNodes = [EXPERIMENT_FILES, createExperimentNodes];
