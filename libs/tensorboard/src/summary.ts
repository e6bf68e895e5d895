import { ProtoWriter } from './wire';
import { computeHistogram, type HistogramData } from './histogram';

/**
 * Summary values, encoded. Field numbers are TensorBoard's, from
 * tensorboard/compat/proto/summary.proto (Summary.Value, SummaryMetadata), histogram.proto
 * (HistogramProto), tensor.proto (TensorProto), tensor_shape.proto and types.proto (DataType).
 *
 * Scalars are written as `simple_value` and histograms as `histo` (a HistogramProto), the forms
 * every TensorBoard reads: 1.x reads them as they are, and 2.x converts them on load
 * (tensorboard/data_compat.py) into the tensors of the scalars and histograms plugins.
 */

/** One Summary.Value, already encoded; events group several under one step. */
export interface SummaryValue {
  readonly tag: string;
  readonly encoded: Uint8Array;
}

export const SUMMARY_VALUE_FIELD = {
  tag: 1,
  simpleValue: 2,
  histo: 5,
  tensor: 8,
  metadata: 9,
} as const;

export const SUMMARY_METADATA_FIELD = { pluginData: 1, displayName: 2, summaryDescription: 3, dataClass: 4 } as const;
export const PLUGIN_DATA_FIELD = { pluginName: 1, content: 2 } as const;
export const HISTOGRAM_FIELD = { min: 1, max: 2, num: 3, sum: 4, sumSquares: 5, bucketLimit: 6, bucket: 7 } as const;
export const TENSOR_FIELD = { dtype: 1, tensorShape: 2, floatVal: 5, stringVal: 8 } as const;
export const TENSOR_SHAPE_FIELD = { dim: 2, unknownRank: 3 } as const;
export const TENSOR_SHAPE_DIM_FIELD = { size: 1, name: 2 } as const;
export const DT_FLOAT = 1;
export const DT_STRING = 7;

function checkTag(tag: string): void {
  if (typeof tag !== 'string' || tag.length === 0) throw new TypeError(`a summary tag must be a non-empty string, got ${JSON.stringify(tag)}`);
}

/** SummaryMetadata naming the plugin that reads a value; `content` is the plugin's own message. */
export function writePluginMetadata(writer: ProtoWriter, pluginName: string, content?: Uint8Array): void {
  writer.message(SUMMARY_VALUE_FIELD.metadata, (metadata) =>
    metadata.message(SUMMARY_METADATA_FIELD.pluginData, (pluginData) => {
      pluginData.string(PLUGIN_DATA_FIELD.pluginName, pluginName);
      if (content !== undefined && content.length > 0) pluginData.bytes(PLUGIN_DATA_FIELD.content, content);
    }),
  );
}

/** A scalar: `simple_value` (a float32), which the scalars dashboard of every TensorBoard reads. */
export function scalarValue(tag: string, value: number): SummaryValue {
  checkTag(tag);
  if (typeof value !== 'number') throw new TypeError(`scalar '${tag}': the value must be a number, got ${typeof value}`);
  const writer = new ProtoWriter().string(SUMMARY_VALUE_FIELD.tag, tag).float(SUMMARY_VALUE_FIELD.simpleValue, value);
  return { tag, encoded: writer.finish() };
}

export function encodeHistogramProto(histogram: HistogramData): Uint8Array {
  const writer = new ProtoWriter();
  // proto3 leaves zero-valued scalars out; readers take them as 0.
  if (histogram.min !== 0) writer.double(HISTOGRAM_FIELD.min, histogram.min);
  if (histogram.max !== 0) writer.double(HISTOGRAM_FIELD.max, histogram.max);
  if (histogram.num !== 0) writer.double(HISTOGRAM_FIELD.num, histogram.num);
  if (histogram.sum !== 0) writer.double(HISTOGRAM_FIELD.sum, histogram.sum);
  if (histogram.sumSquares !== 0) writer.double(HISTOGRAM_FIELD.sumSquares, histogram.sumSquares);
  writer.packedDoubles(HISTOGRAM_FIELD.bucketLimit, histogram.bucketLimit);
  writer.packedDoubles(HISTOGRAM_FIELD.bucket, histogram.bucket);
  return writer.finish();
}

/** A histogram of `values` (or of an already computed histogram) as a `histo` value. */
export function histogramValue(tag: string, values: ArrayLike<number> | HistogramData): SummaryValue {
  checkTag(tag);
  const histogram = 'bucketLimit' in values ? values : computeHistogram(values);
  const writer = new ProtoWriter().string(SUMMARY_VALUE_FIELD.tag, tag).bytes(SUMMARY_VALUE_FIELD.histo, encodeHistogramProto(histogram));
  return { tag, encoded: writer.finish() };
}

/**
 * Text for the text dashboard: a rank-0 DT_STRING tensor with the `text` plugin's metadata (its
 * TextPluginData content is version 0, which encodes as no bytes). Markdown is rendered.
 */
export function textValue(tag: string, text: string): SummaryValue {
  checkTag(tag);
  const writer = new ProtoWriter().string(SUMMARY_VALUE_FIELD.tag, tag);
  writePluginMetadata(writer, 'text');
  writer.message(SUMMARY_VALUE_FIELD.tensor, (tensor) => {
    tensor.uint(TENSOR_FIELD.dtype, DT_STRING);
    // An empty shape message: a scalar.
    tensor.message(TENSOR_FIELD.tensorShape, () => undefined);
    tensor.string(TENSOR_FIELD.stringVal, text);
  });
  return { tag, encoded: writer.finish() };
}

export interface VariableStatistics {
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

/** Mean, population standard deviation (two passes, for accuracy), min and max. NaN propagates. */
export function variableStatistics(values: ArrayLike<number>): VariableStatistics {
  const n = values.length;
  if (n === 0) return { mean: NaN, stddev: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let sawNaN = false;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v !== v) sawNaN = true;
  }
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    squares += d * d;
  }
  return { mean, stddev: Math.sqrt(squares / n), min: sawNaN ? NaN : min, max: sawNaN ? NaN : max };
}

/**
 * The course's `variable_summaries(var)`: under `<name>/summaries/`, the scalars `mean`,
 * `stddev`, `max` and `min` and the histogram `histogram` (e.g. `dense1/kernel/summaries/mean`).
 */
export function variableSummaryValues(name: string, values: ArrayLike<number>): SummaryValue[] {
  checkTag(name);
  const scope = `${name}/summaries`;
  const stats = variableStatistics(values);
  return [
    scalarValue(`${scope}/mean`, stats.mean),
    scalarValue(`${scope}/stddev`, stats.stddev),
    scalarValue(`${scope}/max`, stats.max),
    scalarValue(`${scope}/min`, stats.min),
    histogramValue(`${scope}/histogram`, values),
  ];
}
