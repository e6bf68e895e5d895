import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphDefBuilder, dtypeAttr, shapeAttr } from '@dlexp/graph';
import { createEventWriter, encodeGraphDef, type GraphDefJson } from './index';
import {
  decodeMessage,
  floatField,
  int64Field,
  messageField,
  messageFields,
  packedFloats,
  packedVarints,
  readEventFile,
  stringField,
  stringFields,
  varintField,
  bytesField,
  type WireMessage,
} from './test-reader';

const root = mkdtempSync(join(tmpdir(), 'dlexp-tensorboard-graph-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** TensorShapeProto (tensor_shape.proto): dim 2 (size 1, name 2), unknown_rank 3. */
function readShape(shape: WireMessage): { dims: number[]; unknownRank: boolean } {
  return { dims: messageFields(shape, 2).map((d) => int64Field(d, 1) ?? 0), unknownRank: varintField(shape, 3) === 1n };
}

interface TestNode {
  name: string;
  op: string;
  input: string[];
  device: string | undefined;
  attr: Map<string, WireMessage>;
}

/** GraphDef (graph.proto): node 1, versions 4 (producer 1); NodeDef (node_def.proto): name 1, op 2, input 3, device 4, attr 5 (map entry key 1, value 2). */
function readGraph(bytes: Uint8Array): { nodes: TestNode[]; producer: number | undefined } {
  const graph = decodeMessage(bytes);
  const nodes = messageFields(graph, 1).map((node) => ({
    name: stringField(node, 1) ?? '',
    op: stringField(node, 2) ?? '',
    input: stringFields(node, 3),
    device: stringField(node, 4),
    attr: new Map(messageFields(node, 5).map((entry) => [stringField(entry, 1) ?? '', messageField(entry, 2) ?? new Map()])),
  }));
  const versions = messageField(graph, 4);
  return { nodes, producer: versions === undefined ? undefined : int64Field(versions, 1) };
}

/** A small model the way libs/layers exports one: each layer a name scope with its weights and op. */
function denseModelGraph(): GraphDefJson {
  const builder = new GraphDefBuilder();
  const x = builder.add('x', 'Placeholder', [], { dtype: dtypeAttr('float32'), shape: shapeAttr([null, 784]) });
  const hidden = builder.nameScope('dense1', () => {
    const kernel = builder.add('kernel', 'VariableV2', [], { dtype: dtypeAttr('float32'), shape: shapeAttr([784, 128]) });
    const bias = builder.add('bias', 'VariableV2', [], { dtype: dtypeAttr('float32'), shape: shapeAttr([128]) });
    return builder.add('Dense', 'Dense', [x, kernel, bias], { T: dtypeAttr('float32'), _output_shapes: shapeAttr(undefined) });
  });
  builder.nameScope('dense2', () => {
    const kernel = builder.add('kernel', 'VariableV2', [], { dtype: dtypeAttr('float32'), shape: shapeAttr([128, 10]) });
    builder.add('Dense', 'Dense', [hidden, kernel], { T: dtypeAttr('float32') });
  });
  return builder.build();
}

describe('GraphDef encoding', () => {
  it('writes nodes with names, ops, inputs and attributes, name scopes kept in the names', () => {
    const { nodes, producer } = readGraph(encodeGraphDef(denseModelGraph()));
    expect(producer).toBe(22);
    expect(nodes.map((n) => [n.name, n.op])).toEqual([
      ['x', 'Placeholder'],
      ['dense1/kernel', 'VariableV2'],
      ['dense1/bias', 'VariableV2'],
      ['dense1/Dense', 'Dense'],
      ['dense2/kernel', 'VariableV2'],
      ['dense2/Dense', 'Dense'],
    ]);
    expect(nodes[3]!.input).toEqual(['x', 'dense1/kernel', 'dense1/bias']);
    expect(nodes[5]!.input).toEqual(['dense1/Dense', 'dense2/kernel']);
    // AttrValue (attr_value.proto): type 6 (DT_FLOAT = 1), shape 7.
    const placeholder = nodes[0]!.attr;
    expect([...placeholder.keys()]).toEqual(['dtype', 'shape']);
    expect(varintField(placeholder.get('dtype')!, 6)).toBe(1n);
    expect(readShape(messageField(placeholder.get('shape')!, 7)!)).toEqual({ dims: [-1, 784], unknownRank: false });
    expect(readShape(messageField(nodes[1]!.attr.get('shape')!, 7)!)).toEqual({ dims: [784, 128], unknownRank: false });
    // _output_shapes is list(shape), which TensorBoard's graph view expects even when given a bare shape.
    const outputShapes = messageField(nodes[3]!.attr.get('_output_shapes')!, 1)!;
    expect(messageFields(outputShapes, 7).map(readShape)).toEqual([{ dims: [], unknownRank: true }]);
    // Already a list: written as it is.
    const listed = readGraph(encodeGraphDef({ node: [{ name: 'a', op: 'A', attr: { _output_shapes: { list: { shape: [{ dim: [{ size: '-1' }, { size: 10 }] }] } } } }] }));
    expect(messageFields(messageField(listed.nodes[0]!.attr.get('_output_shapes')!, 1)!, 7).map(readShape)).toEqual([{ dims: [-1, 10], unknownRank: false }]);
    // Every layer's nodes sit in its scope, which the Graphs tab draws as one box.
    const scopes = new Set(nodes.filter((n) => n.name.includes('/')).map((n) => n.name.split('/')[0]));
    expect([...scopes]).toEqual(['dense1', 'dense2']);
  });

  it('encodes every AttrValue kind with its field number', () => {
    const graph: GraphDefJson = {
      node: [
        {
          name: 'conv1/Conv2D',
          op: 'Conv2D',
          device: '/device:CPU:0',
          input: ['x', 'conv1/kernel', '^init'],
          attr: {
            padding: { s: Buffer.from('SAME').toString('base64') },
            strides: { list: { i: ['1', '2', 2, '-1'] } },
            alpha: { f: 0.25 },
            use_cudnn_on_gpu: { b: true },
            off: { b: false },
            big: { i: '-9007199254740993' },
            T: { type: 'DT_DOUBLE' },
            Tnum: { type: 9 },
            names: { list: { s: [Buffer.from('a').toString('base64'), 'Yg'], f: [1.5, 'NaN'], b: [true, false], type: ['DT_INT32', 'DT_BOOL'], shape: [{ dim: [{ size: '3', name: 'rows' }] }] } },
            empty: { list: {} },
            from_function: { placeholder: 'T' },
          },
        },
      ],
    };
    const { nodes, producer } = readGraph(encodeGraphDef(graph));
    expect(producer).toBeUndefined();
    const node = nodes[0]!;
    expect(node.device).toBe('/device:CPU:0');
    expect(node.input).toEqual(['x', 'conv1/kernel', '^init']);
    const attr = node.attr;
    expect(Buffer.from(bytesField(attr.get('padding')!, 2)!).toString()).toBe('SAME');
    expect(packedVarints(messageField(attr.get('strides')!, 1)!, 3).map((v) => BigInt.asIntN(64, v))).toEqual([1n, 2n, 2n, -1n]);
    expect(floatField(attr.get('alpha')!, 4)).toBe(0.25);
    expect(varintField(attr.get('use_cudnn_on_gpu')!, 5)).toBe(1n);
    expect(varintField(attr.get('off')!, 5)).toBe(0n);
    expect(BigInt.asIntN(64, varintField(attr.get('big')!, 3)!)).toBe(-9007199254740993n);
    expect(varintField(attr.get('T')!, 6)).toBe(2n);
    expect(varintField(attr.get('Tnum')!, 6)).toBe(9n);
    const list = messageField(attr.get('names')!, 1)!;
    expect(stringFields(list, 2)).toEqual(['a', 'b']);
    const floats = packedFloats(list, 4);
    expect(floats[0]).toBe(1.5);
    expect(Number.isNaN(floats[1])).toBe(true);
    expect(packedVarints(list, 5)).toEqual([1n, 0n]);
    expect(packedVarints(list, 6)).toEqual([3n, 10n]);
    const shape = messageFields(list, 7)[0]!;
    expect(readShape(shape).dims).toEqual([3]);
    expect(stringField(messageFields(shape, 2)[0]!, 2)).toBe('rows');
    expect(messageField(attr.get('empty')!, 1)!.size).toBe(0);
    expect(stringField(attr.get('from_function')!, 9)).toBe('T');
    // Attributes are sorted by key: the same graph always gives the same bytes.
    expect([...attr.keys()]).toEqual([...attr.keys()].sort());
  });

  it('rejects malformed graphs, naming the node and attribute', () => {
    const node = (extra: object) => ({ node: [{ name: 'n', op: 'Op', ...extra }] }) as GraphDefJson;
    expect(() => encodeGraphDef({ node: [{ name: 'a', op: 'X' }, { name: 'a', op: 'Y' }] })).toThrow(/node\[1\] 'a': the name is used by an earlier node/);
    expect(() => encodeGraphDef({ node: [{ name: '', op: 'X' }] })).toThrow(/node\[0\]: a node needs a non-empty name/);
    expect(() => encodeGraphDef({ node: [{ name: 'a', op: '' }] })).toThrow(/node\[0\] 'a': a node needs a non-empty op/);
    expect(() => encodeGraphDef(node({ attr: { padding: { s: 'SAME!' } } }))).toThrow(/node\[0\] 'n' attr 'padding'.s: "SAME!" is not base64/);
    expect(() => encodeGraphDef(node({ attr: { T: { type: 'DT_FLOAT32' } } }))).toThrow(/attr 'T'.type: unknown data type "DT_FLOAT32"/);
    expect(() => encodeGraphDef(node({ attr: { x: { i: '1.5' } } }))).toThrow(/attr 'x'.i: "1.5" is not an integer/);
    expect(() => encodeGraphDef(node({ attr: { x: { i: '1', f: 2 } } }))).toThrow(/attr 'x': an AttrValue holds exactly one .* this one has i, f/);
    expect(() => encodeGraphDef(node({ attr: { x: {} } }))).toThrow(/this one has none/);
    expect(() => encodeGraphDef(node({ attr: { x: { shape: { dim: [{ size: 'big' }] } } } }))).toThrow(/attr 'x'.shape.dim\[0\].size: "big" is not an integer/);
    expect(() => encodeGraphDef({} as GraphDefJson)).toThrow(/expected an object with a node list/);
  });

  it('goes into an event as graph_def at the step asked for', () => {
    const writer = createEventWriter({ logdir: join(root, 'run'), hostname: 'h' });
    writer.addGraph(denseModelGraph());
    writer.addScalar('loss', 1, 4);
    writer.addGraph({ node: [{ name: 'only', op: 'NoOp' }] }, 4);
    writer.close();
    const { events } = readEventFile(readFileSync(writer.path));
    const graphs = events.filter((e) => e.graphDef !== undefined);
    expect(graphs.map((e) => e.step)).toEqual([0, 4]);
    expect(readGraph(graphs[0]!.graphDef!).nodes).toHaveLength(6);
    expect(readGraph(graphs[1]!.graphDef!).nodes.map((n) => n.name)).toEqual(['only']);
  });
});
