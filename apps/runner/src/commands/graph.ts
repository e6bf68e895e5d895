import Table from 'cli-table3';
import { ConfigError } from '@dlexp/core';
import { inspectGraph } from '@dlexp/serving';
import { createEventWriter } from '@dlexp/tensorboard';
import { displayPath, EXIT, userPath, type Command } from '../cli/context';
import { flag, stringOption } from '../cli/options';

export const graphCommand: Command = {
  name: 'graph',
  usage: [
    [
      'graph inspect <graph.pb | model.json | run-dir> [--tensorboard DIR] [--json]',
      "list a graph's inputs, outputs and ops (marking those TF.js cannot run); --tensorboard writes it for TensorBoard's Graphs tab",
    ],
  ],
  options: {
    tensorboard: { type: 'string', arg: 'DIR', help: 'also write the graph as a TensorBoard event file in DIR (tensorboard --logdir DIR)' },
    json: { type: 'boolean', help: 'print the inspection as one JSON document' },
  },
  async run(positionals, values, { io }) {
    const [action, file, ...rest] = positionals;
    if (action !== 'inspect') throw new ConfigError(`unknown graph command '${action ?? ''}': expected inspect (runner graph inspect FILE)`);
    if (file === undefined || rest.length > 0) throw new ConfigError('usage: runner graph inspect <graph.pb | model.json | run-dir> [--tensorboard DIR] [--json]');
    const inspection = await inspectGraph(userPath(file));
    const logdir = stringOption(values, 'tensorboard');
    let eventFile: string | undefined;
    if (logdir !== undefined) {
      const writer = createEventWriter({ logdir: userPath(logdir), writerName: 'dlexp graph inspect' });
      try {
        // Constants keep their dtype and shape but not their values: the Graphs tab shows no more.
        writer.addGraph(inspection.graphDef, 0);
      } finally {
        writer.close();
      }
      eventFile = writer.path;
    }
    const { graphDef: _graph, tensorBoardGraph: _bytes, ...summary } = inspection;
    if (flag(values, 'json')) {
      io.out(JSON.stringify({ ...summary, file: displayPath(summary.file), ...(eventFile !== undefined ? { tensorboard: displayPath(eventFile) } : {}) }, null, 2));
      return EXIT.ok;
    }
    const shape = (s: number[] | undefined) => (s === undefined ? 'unknown rank' : `[${s.join(', ')}]`);
    io.out(`${displayPath(summary.file)}: ${summary.format}, ${summary.nodeCount} nodes, ${summary.constants.count} constants holding ${summary.constants.values} values`);
    io.out(`inputs: ${summary.inputs.map((i) => `${i.name} ${i.dtype} ${shape(i.shape)}`).join(', ') || 'none'}`);
    io.out(`outputs: ${summary.outputs.map((o) => `${o.name} (${o.op})`).join(', ') || 'none'}`);
    const table = new Table({ head: ['op', 'nodes', 'TF.js runs it'], style: { head: [], border: [] } });
    for (const op of summary.ops) table.push([op.op, String(op.count), op.supported ? 'yes' : 'no']);
    io.out(table.toString());
    if (summary.unsupportedOps.length > 0) io.out(`ops TF.js cannot run: ${summary.unsupportedOps.join(', ')} (predicting fails only if the chosen input-to-output path reaches one)`);
    if (eventFile !== undefined) io.out(`wrote the graph for TensorBoard to ${displayPath(eventFile)} (tensorboard --logdir ${logdir})`);
    return EXIT.ok;
  },
};
