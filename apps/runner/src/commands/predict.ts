import Table from 'cli-table3';
import { ConfigError } from '@dlexp/core';
import { activateBackend } from '@dlexp/backends';
import { imagePreprocessingFor, loadInferenceModel, predict, type PredictOptions } from '@dlexp/serving';
import { displayPath, EXIT, userPath, type Command } from '../cli/context';
import { choiceOption, EXPERIMENT_OPTIONS, flag, integerOption, stringOption, type OptionValues } from '../cli/options';
import { probeWebgpuAdapter } from '../cli/webgpu-probe';

/** A number option, or undefined when not given. */
function numberOption(values: OptionValues, name: string): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new ConfigError(`--${name} must be a number, got '${text}'`);
  return value;
}

/** One number, or one per channel: `0.5` or `0.485,0.456,0.406`. */
function numbersOption(values: OptionValues, name: string): number | number[] | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => Number(p));
  if (parts.some((p, i) => !Number.isFinite(p) || text.split(',')[i]!.trim() === '')) throw new ConfigError(`--${name} must be a number or numbers separated by commas, got '${text}'`);
  return parts.length === 1 ? parts[0]! : parts;
}

/** Sizes: `299` (a square) or `224x224`; shapes: `1,299,299,3` (-1 for any size). */
function sizeOption(values: OptionValues): number | [number, number] | undefined {
  const text = stringOption(values, 'size');
  if (text === undefined) return undefined;
  const match = /^(\d+)(?:x(\d+))?$/.exec(text);
  if (match === null || Number(match[1]) < 1 || (match[2] !== undefined && Number(match[2]) < 1)) throw new ConfigError(`--size must be HEIGHT or HEIGHTxWIDTH in pixels, got '${text}'`);
  return match[2] === undefined ? Number(match[1]) : [Number(match[1]), Number(match[2])];
}

function shapeOption(values: OptionValues): number[] | undefined {
  const text = stringOption(values, 'input-shape');
  if (text === undefined) return undefined;
  const dims = text.split(',').map((d) => Number(d));
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1))) throw new ConfigError(`--input-shape must be sizes separated by commas (-1 for any), got '${text}'`);
  return dims;
}

/** What the command line says about the model and its images, as the serving library takes it. */
function predictOptions(values: OptionValues): PredictOptions {
  const options: PredictOptions = {};
  const set = <K extends keyof PredictOptions>(key: K, value: PredictOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('input', stringOption(values, 'input'));
  set('output', stringOption(values, 'output'));
  set('inputShape', shapeOption(values));
  const labels = stringOption(values, 'labels');
  set('labels', labels === undefined ? undefined : userPath(labels));
  set('top', integerOption(values, 'top', 1, 100000));
  set('size', sizeOption(values));
  const channels = choiceOption(values, 'channels', ['1', '3'] as const);
  set('channels', channels === undefined ? undefined : (Number(channels) as 1 | 3));
  set('channelOrder', choiceOption(values, 'channel-order', ['rgb', 'bgr'] as const));
  set('scale', numberOption(values, 'scale'));
  set('mean', numbersOption(values, 'mean'));
  set('std', numbersOption(values, 'std'));
  set('outputKind', choiceOption(values, 'output-kind', ['logits', 'probabilities'] as const));
  return options;
}

export const predictCommand: Command = {
  name: 'predict',
  usage: [
    [
      'predict <run-dir | model.json | graph.pb> <image-or-dir>... [--labels FILE] [--top 5] [--json]',
      'classify PNG/JPEG images with a saved or converted model (a run, a TF.js Layers or graph model, a frozen TensorFlow GraphDef)',
    ],
  ],
  options: {
    labels: { type: 'string', arg: 'FILE', help: 'class names: one per line, or a JSON list (default: what the model records)' },
    top: { type: 'string', arg: 'N', help: 'how many classes to show per image (default 5)' },
    json: { type: 'boolean', help: 'print one JSON document: per image its file and [{label, probability}], highest first' },
    input: { type: 'string', arg: 'NAME', help: 'the input tensor or layer fed with the images (a graph\'s Mul:0)' },
    output: { type: 'string', arg: 'NAME', help: 'the output tensor or layer read (a graph\'s softmax:0, a head of the model)' },
    'input-shape': { type: 'string', arg: 'N,H,W,C', help: 'the fed shape when the graph does not record it (-1 for any size)' },
    size: { type: 'string', arg: 'H[xW]', help: 'resize images to this size (default: what the model records or its input shape)' },
    channels: { type: 'string', arg: '1|3', help: 'gray or RGB input (default: what the model records or its input shape)' },
    'channel-order': { type: 'string', arg: 'rgb|bgr', help: 'bgr for models trained on BGR images' },
    scale: { type: 'string', arg: 'S', help: 'pixels (0-255) are multiplied by this first (default 1/255 unless recorded)' },
    mean: { type: 'string', arg: 'M[,M,M]', help: 'subtracted after scaling: one value or one per channel' },
    std: { type: 'string', arg: 'S[,S,S]', help: 'divided by last: one value or one per channel' },
    'output-kind': { type: 'string', arg: 'logits|probabilities', help: 'what the output holds (default: recorded, else told from the values)' },
    backend: EXPERIMENT_OPTIONS['backend']!,
  },
  async run(positionals, values, { io }) {
    const [modelPath, ...images] = positionals;
    if (modelPath === undefined || images.length === 0) throw new ConfigError('usage: runner predict <run-dir | model.json | graph.pb> <image-or-dir>... (see runner predict --help)');
    const json = flag(values, 'json');
    // With --json, stdout holds the document alone: everything else goes to stderr.
    const log = json ? io.err : io.out;
    const backend = stringOption(values, 'backend');
    if (backend !== undefined) await activateBackend(backend, { log: io.err, probeWebgpuAdapter });
    const options = predictOptions(values);
    const model = await loadInferenceModel(userPath(modelPath), options);
    let results;
    try {
      const prepared = imagePreprocessingFor(model, options);
      log(
        `${displayPath(model.file)} (${model.format}): input ${model.input.name}, output ${model.output.name}; images resized to ` +
          `${prepared.height}x${prepared.width}x${prepared.channels}, pixel·${formatScale(prepared.scale)} − ${prepared.mean.join('/')} ÷ ${prepared.std.join('/')}` +
          (model.preprocessing !== undefined ? ' (as the model records)' : ''),
      );
      results = await predict(model, images.map(userPath), options);
    } finally {
      model.dispose();
    }
    if (json) {
      io.out(JSON.stringify({ model: displayPath(model.file), images: results.map((r) => ({ file: displayPath(r.file), predictions: r.predictions })) }, null, 2));
      return EXIT.ok;
    }
    const table = new Table({ head: ['image', 'label', 'probability'], style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
    for (const result of results) {
      result.predictions.forEach((p, i) => table.push([i === 0 ? displayPath(result.file) : '', p.label, p.probability.toFixed(4)]));
    }
    io.out(table.toString());
    return EXIT.ok;
  },
};

function formatScale(scale: number): string {
  return Math.abs(scale - 1 / 255) < 1e-12 ? '1/255' : String(scale);
}
