import type { Command } from '../cli/context';
import { dataCommand } from './data';
import { evaluateCommand } from './evaluate';
import { exportCommand } from './export';
import { graphCommand } from './graph';
import { predictCommand } from './predict';
import { listCommand, schemaCommand } from './registry-commands';
import { compareCommand, reportCommand, runsCommand } from './reports';
import { resumeCommand, runCommand } from './run';
import { uiCommand } from './ui';
import { validateCommand } from './validate';
import { workerCommand } from './worker';

/**
 * Every command of the CLI, in the order --help lists them. A command is one file in this folder
 * and one line here; its logic lives in a library.
 */
export const COMMANDS: Command[] = [
  runCommand,
  validateCommand,
  resumeCommand,
  evaluateCommand,
  dataCommand,
  listCommand,
  schemaCommand,
  compareCommand,
  runsCommand,
  reportCommand,
  predictCommand,
  exportCommand,
  graphCommand,
  uiCommand,
  workerCommand,
];
