import nx from '@nx/eslint-plugin';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/node_modules', '**/dist', '**/runs', '**/.nx', '**/test-results', 'bench/results', '.device'],
  },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    rules: {
      // Module boundaries: core is the leaf; graph, data, optim and config see only core; the
      // engine (train) sees the libraries below it; writers, plots and sweeps see the engine; the
      // runner app, the benchmarks and the end-to-end tests see libraries, and no library or
      // benchmark sees an app.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'scope:graph', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:data', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:optim', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:config', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:native', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:layers', onlyDependOnLibsWithTags: ['scope:core', 'scope:graph'] },
            { sourceTag: 'scope:backends', onlyDependOnLibsWithTags: ['scope:core', 'scope:native'] },
            { sourceTag: 'scope:serving', onlyDependOnLibsWithTags: ['scope:core', 'scope:graph', 'scope:layers', 'scope:data'] },
            { sourceTag: 'scope:train', onlyDependOnLibsWithTags: ['scope:core', 'scope:graph', 'scope:layers', 'scope:optim', 'scope:data', 'scope:backends', 'scope:config', 'scope:serving'] },
            { sourceTag: 'scope:tensorboard', onlyDependOnLibsWithTags: ['scope:core', 'scope:graph', 'scope:data', 'scope:config', 'scope:train'] },
            { sourceTag: 'scope:plots', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:train'] },
            { sourceTag: 'scope:sweep', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:train'] },
            { sourceTag: 'scope:queue', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:train', 'scope:sweep'] },
            { sourceTag: 'scope:dashboard', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:train', 'scope:plots'] },
            // The web app runs the engine in the page; of the dashboard it imports only the API's types.
            { sourceTag: 'scope:web', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:data', 'scope:backends', 'scope:train', 'scope:plots', 'scope:dashboard'] },
            { sourceTag: 'scope:web-e2e', onlyDependOnLibsWithTags: ['scope:core', 'scope:dashboard', 'scope:plots'] },
            { sourceTag: 'scope:host', onlyDependOnLibsWithTags: ['type:lib', 'type:util'] },
            { sourceTag: 'scope:runner', onlyDependOnLibsWithTags: ['type:lib', 'type:util'] },
            { sourceTag: 'scope:bench', onlyDependOnLibsWithTags: ['type:lib', 'type:util'] },
            { sourceTag: 'scope:tests', onlyDependOnLibsWithTags: ['type:lib', 'type:util', 'type:app'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:util', 'type:lib'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:util', 'type:lib'] },
            { sourceTag: 'type:bench', onlyDependOnLibsWithTags: ['type:util', 'type:lib'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:util', 'type:lib', 'type:app'] },
          ],
        },
      ],
      'prefer-const': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.name='eval']", message: 'A config is data, never code.' },
        { selector: "NewExpression[callee.name='Function']", message: 'A config is data, never code.' },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // noUncheckedIndexedAccess makes '!' the honest way to say an index is known to be in range.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The web app's pages are .tsx, which the block above does not cover: the same boundary for them.
    files: ['apps/web/**/*.tsx'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'scope:web', onlyDependOnLibsWithTags: ['scope:core', 'scope:config', 'scope:data', 'scope:backends', 'scope:train', 'scope:plots', 'scope:dashboard'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:util', 'type:lib'] },
          ],
        },
      ],
      'prefer-const': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.name='eval']", message: 'A config is data, never code.' },
        { selector: "NewExpression[callee.name='Function']", message: 'A config is data, never code.' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Every project's vitest.config.ts re-exports the workspace's shared test settings by relative path;
    // that file belongs to no project, so the boundary rule has nothing to check there.
    files: ['**/vitest.config.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
];
