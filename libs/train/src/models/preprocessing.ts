import { createPreprocessingSpec, type NormalizeInput, type PreprocessingSpec } from '@dlexp/serving';
import type { ImageEncoding, LoadedDataset } from '@dlexp/data';
import type { TrainableModel } from './trainable-model';

/** Losses whose head outputs logits, and those whose head outputs probabilities; others are left for predict to tell. */
const LOGIT_LOSSES = new Set(['softmaxCrossEntropy', 'sigmoidCrossEntropy']);
const PROBABILITY_LOSSES = new Set(['binaryCrossentropy']);

function normalizeOf(encoding: ImageEncoding): NormalizeInput {
  if (encoding.mode === 'unit' || encoding.mode === 'raw') return encoding.mode;
  if (encoding.mode === 'standardize' && encoding.mean.length === 1 && encoding.std.length === 1) return { mode: 'standardize', mean: encoding.mean[0]!, std: encoding.std[0]! };
  return { mode: 'custom', scale: encoding.scale, mean: encoding.mean, std: encoding.std };
}

/**
 * What `preprocessing.json` records for a model fed with images (the serving format), so that
 * `runner predict <run-dir> image.png` needs no flags: the input's shape, how the dataset made its
 * pixels into values, the class names and whether the output holds logits. Undefined for models
 * not fed from one image feature. A model with several heads records its input, and the class
 * names when every head shares them (the characters of a captcha); its output is chosen by name.
 */
export function preprocessingFor(model: TrainableModel, dataset: LoadedDataset): PreprocessingSpec | undefined {
  const signature = model.signature?.();
  if (signature === undefined || signature.inputs.length !== 1) return undefined;
  const input = signature.inputs[0]!;
  const encoding = dataset.images?.[input.feature];
  if (encoding === undefined) return undefined;
  const { height, width, channels } = encoding.image;
  if (input.shape.reduce((a, b) => a * b, 1) !== height * width * channels) return undefined;
  const single = signature.outputs.length === 1 ? signature.outputs[0]! : undefined;
  const vocabularies = signature.outputs.map((o) => dataset.vocabularies?.[o.target]);
  const shared = vocabularies.every((v) => v !== undefined && JSON.stringify(v) === JSON.stringify(vocabularies[0]));
  const labels = shared ? vocabularies[0] : undefined;
  const losses = new Set(signature.outputs.map((o) => o.loss));
  const outputKind = [...losses].every((l) => LOGIT_LOSSES.has(l)) ? 'logits' : [...losses].every((l) => PROBABILITY_LOSSES.has(l)) ? 'probabilities' : undefined;
  return createPreprocessingSpec({
    inputShape: input.shape,
    normalize: normalizeOf(encoding),
    image: encoding.image,
    dtype: input.dtype,
    inputName: input.name,
    ...(labels !== undefined ? { labels } : {}),
    ...(outputKind !== undefined ? { outputKind } : {}),
    ...(single !== undefined ? { outputName: single.layer } : {}),
  });
}
