import { ConfigError } from '@dlexp/core';
import { exportModel, type ExportFormat } from '@dlexp/serving';
import { displayPath, EXIT, userPath, type Command } from '../cli/context';
import { choiceOption, flag, stringOption } from '../cli/options';

export const exportCommand: Command = {
  name: 'export',
  usage: [
    [
      'export <run-dir> --format graph-model|frozen-pb --out DIR',
      "write a run's trained model as an inference graph of TF ops, weights as constants: a TF.js graph model, or a frozen TensorFlow GraphDef (model.pb)",
    ],
  ],
  options: {
    format: { type: 'string', arg: 'graph-model|frozen-pb', help: 'graph-model: model.json + weight shards (TF.js); frozen-pb: model.pb (TensorFlow)' },
    out: { type: 'string', arg: 'DIR', help: 'the folder the model is written to (created; existing model files are not replaced)' },
    json: { type: 'boolean', help: 'print what was written as one JSON document' },
  },
  async run(positionals, values, { io }) {
    const format = choiceOption(values, 'format', ['graph-model', 'frozen-pb'] as const);
    const out = stringOption(values, 'out');
    if (positionals.length !== 1 || format === undefined || out === undefined) throw new ConfigError('usage: runner export <run-dir> --format graph-model|frozen-pb --out DIR');
    const result = await exportModel(userPath(positionals[0]!), userPath(out), { format: format satisfies ExportFormat });
    if (flag(values, 'json')) {
      io.out(JSON.stringify({ ...result, files: result.files.map(displayPath) }, null, 2));
      return EXIT.ok;
    }
    const signature = (entries: typeof result.inputs) => entries.map((e) => `${e.tensor} ${e.dtype} [${e.shape.join(', ')}]`).join(', ');
    const ops = Object.entries(result.ops).sort(([, a], [, b]) => b - a);
    io.out(`wrote a ${format} to ${out}: ${result.files.map((f) => displayPath(f)).join(', ')}`);
    io.out(`inputs: ${signature(result.inputs)}`);
    io.out(`outputs: ${signature(result.outputs)}`);
    io.out(`${ops.reduce((n, [, c]) => n + c, 0)} nodes: ${ops.map(([op, count]) => `${op} ${count}`).join(', ')}`);
    return EXIT.ok;
  },
};
