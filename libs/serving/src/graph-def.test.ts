import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError, RandomStream } from '@dlexp/core';
import { decodeGraphDef, encodeGraphDef } from './graph-def-binary';
import { inspectGraph } from './inspect';
import { loadInferenceModel } from './load-model';
import { writeGraphModel } from './model-files';
import { WireReader } from './proto-wire';
import { selectSubgraph } from './subgraph';
import { TFJS_SUPPORTED_OPS } from './tfjs-ops';
import { decodeWeightGroup } from './weights';
import { leakFree, tempDir } from './test-helpers';

const tmp = tempDir('graph-def');
afterAll(tmp.cleanup);

// ---- A GraphDef written byte by byte from the wire format, independent of this library's writer.
type Bytes = number[];
const varint = (n: number): Bytes => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: Bytes = [];
  while (v >= 128n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};
const key = (field: number, wire: number) => varint(field * 8 + wire);
const lengthDelimited = (field: number, content: Bytes): Bytes => [...key(field, 2), ...varint(content.length), ...content];
const text = (field: number, s: string) => lengthDelimited(field, [...Buffer.from(s, 'utf8')]);
const floatBytes = (values: number[]): Bytes => [...new Uint8Array(Float32Array.from(values).buffer)];
const DT_FLOAT = 1;
const DT_INT32 = 3;
const DT_STRING = 7;

const shapeProto = (dims: number[]): Bytes => dims.flatMap((d) => lengthDelimited(2, [...key(1, 0), ...varint(d)]));
const attr = {
  type: (t: number): Bytes => [...key(6, 0), ...varint(t)],
  shape: (dims: number[]): Bytes => lengthDelimited(7, shapeProto(dims)),
  f: (v: number): Bytes => [...key(4, 5), ...floatBytes([v])],
  b: (v: boolean): Bytes => [...key(5, 0), v ? 1 : 0],
  i: (v: number): Bytes => [...key(3, 0), ...varint(v)],
  /** A float tensor with its values in tensor_content. */
  content: (dims: number[], values: number[]): Bytes => lengthDelimited(8, [...key(1, 0), DT_FLOAT, ...lengthDelimited(2, shapeProto(dims)), ...lengthDelimited(4, floatBytes(values))]),
  /** A float tensor with packed float_val (one value fills the tensor). */
  floatVal: (dims: number[], values: number[]): Bytes => lengthDelimited(8, [...key(1, 0), DT_FLOAT, ...lengthDelimited(2, shapeProto(dims)), ...lengthDelimited(5, floatBytes(values))]),
  /** A float tensor with unpacked float_val entries. */
  unpacked: (dims: number[], values: number[]): Bytes =>
    lengthDelimited(8, [...key(1, 0), DT_FLOAT, ...lengthDelimited(2, shapeProto(dims)), ...values.flatMap((v) => [...key(5, 5), ...floatBytes([v])])]),
  int32: (values: number[]): Bytes => lengthDelimited(8, [...key(1, 0), DT_INT32, ...lengthDelimited(2, shapeProto([])), ...lengthDelimited(7, values.flatMap(varint))]),
};
const node = (name: string, op: string, inputs: string[], attrs: [string, Bytes][] = []): Bytes =>
  lengthDelimited(1, [...text(1, name), ...text(2, op), ...inputs.flatMap((i) => text(3, i)), ...attrs.flatMap(([k, v]) => lengthDelimited(5, [...text(1, k), ...lengthDelimited(2, v)]))]);
const graphDef = (nodes: Bytes[]): Uint8Array => Uint8Array.from([...nodes.flat(), ...lengthDelimited(4, [...key(1, 0), ...varint(22)])]);
const T = (t = DT_FLOAT): [string, Bytes] => ['T', attr.type(t)];

const W = [1, -2, 0.5, 3, 0.25, -1];
/**
 * Shaped like the front and back of Inception-v3's classify_image_graph_def.pb: a JPEG decoder
 * (which TF.js cannot run) feeding Mul:0, then a MatMul, a bias, the old
 * BatchNormWithGlobalNormalization, a softmax and a Concat of the old kind (dimension first).
 */
function classifierGraph(): Uint8Array {
  return graphDef([
    node('DecodeJpeg/contents', 'Placeholder', [], [['dtype', attr.type(DT_STRING)], ['shape', attr.shape([])]]),
    node('DecodeJpeg', 'DecodeJpeg', ['DecodeJpeg/contents'], [['channels', attr.i(3)]]),
    node('Cast', 'Cast', ['DecodeJpeg'], [['SrcT', attr.type(4)], ['DstT', attr.type(DT_FLOAT)]]),
    node('Sub/y', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([], [128])]]),
    node('Sub', 'Sub', ['Cast', 'Sub/y'], [T()]),
    node('Mul/y', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([], [1 / 128])]]),
    node('Mul', 'Mul', ['Sub', 'Mul/y'], [T(), ['_output_shapes', lengthDelimited(1, lengthDelimited(7, shapeProto([1, 2])))]]),
    node('weights', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.content([2, 3], W)]]),
    node('MatMul', 'MatMul', ['Mul', 'weights'], [T(), ['transpose_a', attr.b(false)], ['transpose_b', attr.b(false)]]),
    node('bias', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([3], [0.5])]]),
    node('add', 'Add', ['MatMul', 'bias'], [T()]),
    node('bn/mean', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.unpacked([3], [0.1, 0.2, 0.3])]]),
    node('bn/variance', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([3], [4, 1, 0.25])]]),
    node('bn/beta', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([3], [0, 1, -1])]]),
    node('bn/gamma', 'Const', [], [['dtype', attr.type(DT_FLOAT)], ['value', attr.floatVal([3], [2, 1, 0.5])]]),
    node('bn', 'BatchNormWithGlobalNormalization', ['add', 'bn/mean', 'bn/variance', 'bn/beta', 'bn/gamma'], [
      T(),
      ['variance_epsilon', attr.f(0)],
      ['scale_after_normalization', attr.b(true)],
    ]),
    node('softmax', 'Softmax', ['bn'], [T()]),
    node('concat/dim', 'Const', [], [['dtype', attr.type(DT_INT32)], ['value', attr.int32([1])]]),
    node('joined', 'Concat', ['concat/dim', 'softmax', 'bn'], [T(), ['N', attr.i(2)]]),
  ]);
}

/** What the classifier graph computes from the value at Mul:0 (a [1, 2] row). */
function expectedClassifier(mul: [number, number]): { bn: number[]; softmax: number[] } {
  const add = [0, 1, 2].map((j) => mul[0] * W[j]! + mul[1] * W[3 + j]! + 0.5);
  const [mean, variance, beta, gamma] = [[0.1, 0.2, 0.3], [4, 1, 0.25], [0, 1, -1], [2, 1, 0.5]] as number[][];
  const bn = add.map((v, j) => ((v - mean![j]!) / Math.sqrt(variance![j]!)) * gamma![j]! + beta![j]!);
  const max = Math.max(...bn);
  const exp = bn.map((v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return { bn, softmax: exp.map((e) => e / sum) };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error,
  );
}

describe('frozen GraphDef (.pb)', () => {
  const pb = join(tmp.dir, 'classify_image_graph_def.pb');
  writeFileSync(pb, classifierGraph());

  it('decodes nodes, attributes and constants written in every encoding', () => {
    const frozen = decodeGraphDef(classifierGraph(), 'fixture.pb');
    expect(frozen.graph.node).toHaveLength(19);
    expect(frozen.graph.versions).toEqual({ producer: 22 });
    const mul = frozen.graph.node.find((n) => n.name === 'Mul')!;
    expect(mul.input).toEqual(['Sub', 'Mul/y']);
    expect(mul.attr?.['T']).toEqual({ type: 'DT_FLOAT' });
    expect(mul.attr?.['_output_shapes']).toEqual({ list: { shape: [{ dim: [{ size: '1' }, { size: '2' }] }] } });
    expect(frozen.graph.node.find((n) => n.name === 'weights')!.attr).toEqual({ dtype: { type: 'DT_FLOAT' } });
    expect(Array.from(frozen.constants.get('weights')!.values as Float32Array)).toEqual(W);
    expect(frozen.constants.get('weights')!.shape).toEqual([2, 3]);
    expect(Array.from(frozen.constants.get('bias')!.values as Float32Array)).toEqual([0.5, 0.5, 0.5]);
    expect(Array.from(frozen.constants.get('bn/mean')!.values as Float32Array)).toEqual([0.1, 0.2, 0.3].map(Math.fround));
    expect(frozen.constants.get('concat/dim')).toEqual({ dtype: 'int32', shape: [], values: Int32Array.of(1) });
    // The writer's bytes read back the same.
    const again = decodeGraphDef(encodeGraphDef(frozen), 'again.pb');
    expect(again.graph).toEqual(frozen.graph);
    expect(again.constants).toEqual(frozen.constants);
  });

  it('runs from Mul:0 to softmax:0, with the old batch normalization and Concat rewritten or supported', async () => {
    await leakFree(async () => {
      const model = await loadInferenceModel(pb, { input: 'Mul:0', output: 'joined:0' });
      try {
        expect(model.input).toEqual({ name: 'Mul:0', dtype: 'float32', shape: [1, 2] });
        const x = tf.tensor2d([[0.5, -1.5]]);
        const out = await model.run(x);
        const expected = expectedClassifier([0.5, -1.5]);
        const values = Array.from(await out.data());
        expect(out.shape).toEqual([1, 6]);
        [...expected.softmax, ...expected.bn].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 5));
        tf.dispose([x, out]);
      } finally {
        model.dispose();
      }
    });
  });

  it('names the op TF.js cannot run when the chosen path reaches it', async () => {
    for (const options of [{}, { input: 'DecodeJpeg/contents:0', output: 'softmax:0' }]) {
      const error = await rejection(loadInferenceModel(pb, options));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/TF\.js cannot run the op DecodeJpeg \(node 'DecodeJpeg'\) on the path from 'DecodeJpeg\/contents:0' to '(joined|softmax):0'/);
    }
    const frozen = decodeGraphDef(classifierGraph(), pb);
    // Past the decoder, the same graph is fine; an unknown name gets a suggestion.
    expect(selectSubgraph(frozen, pb, { input: 'Mul:0', output: 'softmax:0' }).frozen.graph.node.map((n) => n.op)).not.toContain('DecodeJpeg');
    expect(thrown(() => selectSubgraph(frozen, pb, { input: 'Mull:0' })).message).toMatch(/no node 'Mull' \(input\); did you mean 'Mul'\?/);
    expect(thrown(() => selectSubgraph(frozen, pb, { input: 'bias:0', output: 'Mul:0' })).message).toMatch(/does not depend on the input 'bias:0'/);
  });

  it('reports a truncated or corrupt file as a DataError with the byte offset, never a crash', () => {
    const bytes = classifierGraph();
    for (const cut of [3, 40, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const error = thrown(() => decodeGraphDef(bytes.subarray(0, cut), 'cut.pb'));
      expect(error, `cut at ${cut}`).toBeInstanceOf(DataError);
      expect(error.message).toMatch(/^cut\.pb: byte \d+: /);
    }
    const badContent = graphDef([node('w', 'Const', [], [['value', attr.content([2, 2], [1, 2, 3])]])]);
    expect(thrown(() => decodeGraphDef(badContent, 'bad.pb')).message).toMatch(/bad\.pb: byte \d+: constant 'w': tensor_content holds 12 bytes but DT_FLOAT \[2, 2\] needs 16/);
    expect(thrown(() => decodeGraphDef(Buffer.from('this is not a protocol buffer'), 'text.pb'))).toBeInstanceOf(DataError);
    // Random bytes: every outcome is a graph or a DataError.
    const random = new RandomStream(5);
    for (let round = 0; round < 300; round++) {
      const noise = Uint8Array.from({ length: 1 + random.int(64) }, () => random.int(256));
      if (round % 2 === 0) noise.set(bytes.subarray(0, Math.min(noise.length, 20)));
      try {
        decodeGraphDef(noise, 'noise.pb');
      } catch (error) {
        expect(error).toBeInstanceOf(DataError);
      }
    }
  });

  it('inspects inputs, outputs and ops, and gives TensorBoard the structure without the values', async () => {
    const inspection = await inspectGraph(pb);
    expect(inspection.format).toBe('frozen-pb');
    expect(inspection.inputs).toEqual([{ name: 'DecodeJpeg/contents:0', dtype: 'string', shape: [] }]);
    expect(inspection.outputs).toEqual([{ name: 'joined:0', op: 'Concat' }]);
    expect(inspection.ops[0]).toEqual({ op: 'Const', count: 9, supported: true });
    expect(inspection.ops.find((o) => o.op === 'BatchNormWithGlobalNormalization')?.supported).toBe(false);
    expect(inspection.unsupportedOps).toEqual(['DecodeJpeg']);
    expect(inspection.constants).toEqual({ count: 9, values: 1 + 1 + 6 + 3 * 5 + 1 });
    const structure = decodeGraphDef(inspection.tensorBoardGraph(), 'tb.pb');
    expect(structure.graph.node.map((n) => n.name)).toEqual(inspection.graphDef.node.map((n) => n.name));
  });
});

describe('the binary writer, read by an independent protobuf implementation', () => {
  // The messages of tensorflow/core/framework/*.proto that a frozen graph uses (field numbers as there).
  const schema = `
    syntax = "proto3";
    package tensorflow;
    message TensorShapeProto { message Dim { int64 size = 1; string name = 2; } repeated Dim dim = 2; bool unknown_rank = 3; }
    message TensorProto { int32 dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
      repeated float float_val = 5; repeated int32 int_val = 7; repeated bytes string_val = 8; }
    message AttrValue { message ListValue { repeated bytes s = 2; repeated int64 i = 3; repeated float f = 4; repeated bool b = 5;
        repeated int32 type = 6; repeated TensorShapeProto shape = 7; }
      oneof value { ListValue list = 1; bytes s = 2; int64 i = 3; float f = 4; bool b = 5; int32 type = 6;
        TensorShapeProto shape = 7; TensorProto tensor = 8; } }
    message NodeDef { string name = 1; string op = 2; repeated string input = 3; string device = 4; map<string, AttrValue> attr = 5; }
    message VersionDef { int32 producer = 1; int32 min_consumer = 2; }
    message GraphDef { repeated NodeDef node = 1; VersionDef versions = 4; }
  `;
  const root = protobuf.parse(schema, { keepCase: true }).root;
  root.resolveAll();
  const GraphDef = root.lookupType('tensorflow.GraphDef');

  it('writes what protobufjs reads: strings, int lists with negatives, shapes, inlined constants', () => {
    const frozen = decodeGraphDef(classifierGraph(), 'fixture.pb');
    frozen.graph.node.push({
      name: 'x',
      op: 'Placeholder',
      attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } }, axes: { list: { i: ['-1', '3'] } }, padding: { s: Buffer.from('SAME').toString('base64') } },
    });
    const decoded = GraphDef.toObject(GraphDef.decode(encodeGraphDef(frozen)), { longs: Number, bytes: Array }) as {
      node: { name: string; op: string; attr: Record<string, Record<string, unknown>> }[];
      versions: { producer: number };
    };
    expect(decoded.versions.producer).toBe(22);
    const x = decoded.node.find((n) => n.name === 'x')!;
    expect(x.attr['shape']!['shape']).toEqual({ dim: [{ size: -1 }, { size: 2 }] });
    expect((x.attr['axes']!['list'] as { i: number[] }).i).toEqual([-1, 3]);
    expect(Buffer.from(x.attr['padding']!['s'] as number[]).toString()).toBe('SAME');
    const weights = decoded.node.find((n) => n.name === 'weights')!.attr['value']!['tensor'] as { dtype: number; tensor_shape: unknown; tensor_content: number[] };
    expect(weights.dtype).toBe(DT_FLOAT);
    expect(weights.tensor_shape).toEqual({ dim: [{ size: 2 }, { size: 3 }] });
    expect(Array.from(new Float32Array(Uint8Array.from(weights.tensor_content).buffer))).toEqual(W);
    expect(decoded.node.map((n) => n.name)).toEqual(frozen.graph.node.map((n) => n.name));
  });

  it('reads negative int64 varints (ten bytes) exactly', () => {
    const bytes = Uint8Array.from([...varint(-1), ...varint(-(2 ** 40)), ...varint(2 ** 52 + 1)]);
    const r = new WireReader(bytes, 'ints');
    expect([r.signedVarint(), r.signedVarint(), r.signedVarint()]).toEqual([-1, -(2 ** 40), 2 ** 52 + 1]);
    expect(bytes.length).toBe(10 + 10 + 8);
  });
});

describe('graph models (model.json + shards)', () => {
  const dir = join(tmp.dir, 'graph-model');
  mkdirSync(dir, { recursive: true });
  const frozen = decodeGraphDef(classifierGraph(), 'fixture.pb');
  writeGraphModel(frozen, dir);

  it('loads through a file handler and runs like the .pb', async () => {
    await leakFree(async () => {
      const model = await loadInferenceModel(dir, { input: 'Mul:0', output: 'softmax:0' });
      try {
        const x = tf.tensor2d([[1, 2]]);
        const out = await model.run(x);
        const expected = expectedClassifier([1, 2]).softmax;
        Array.from(await out.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
        tf.dispose([x, out]);
      } finally {
        model.dispose();
      }
    });
  });

  it('reports corrupt model.json, manifests and shards with file and offset', async () => {
    const bad = join(tmp.dir, 'bad-graph-model');
    mkdirSync(bad, { recursive: true });
    const json = readFileSync(join(dir, 'model.json'), 'utf8');
    writeFileSync(join(bad, 'model.json'), json.slice(0, 100));
    await expect(loadInferenceModel(bad)).rejects.toThrow(/model\.json: byte 100 \(line 1, column 101\): not valid JSON: the text ends/);
    writeFileSync(join(bad, 'model.json'), json.replace('"group1-shard1of1.bin"', '"../../etc/passwd"'));
    await expect(loadInferenceModel(bad)).rejects.toThrow(/paths\[0\]: "..\/..\/etc\/passwd" is not a file name inside the model's folder/);
    writeFileSync(join(bad, 'model.json'), json);
    const shard = readFileSync(join(dir, 'group1-shard1of1.bin'));
    writeFileSync(join(bad, 'group1-shard1of1.bin'), shard.subarray(0, shard.length - 6));
    const error = await rejection(loadInferenceModel(bad, { input: 'Mul:0' }));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(/group1-shard1of1\.bin: byte \d+: truncated: weight '[^']+' needs \d+ bytes/);
  });

  it('expands quantized weights', () => {
    const data = Uint8Array.from([0, 128, 255, 0x00, 0x3c, 0x00, 0xc0]);
    const weights = decodeWeightGroup(
      [
        { name: 'q8', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
        { name: 'half', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
      [{ path: 'shard', bytes: data }],
      'model.json',
    );
    expect(Array.from(weights.get('q8')!.values as Float32Array)).toEqual([-1, 63, 126.5]);
    expect(Array.from(weights.get('half')!.values as Float32Array)).toEqual([1, -2]);
  });
});

describe('the supported-op list', () => {
  it('matches the op mappers of the installed tfjs-converter', () => {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('@tensorflow/tfjs-converter/package.json')), 'dist', 'operations', 'op_list');
    const installed = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/'tfOpName': '([A-Za-z0-9_]+)'/g)) installed.add(match[1]!);
    }
    expect([...TFJS_SUPPORTED_OPS].sort()).toEqual([...installed].sort());
  });
});
