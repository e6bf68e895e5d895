import type { GraphDef } from '@dlexp/graph';
import { ProtoWriter } from './wire';

/**
 * GraphDef from its proto3 JSON form (what libs/graph exports) to the binary form that
 * `Event.graph_def` holds. Field numbers from tensorboard/compat/proto/graph.proto (GraphDef),
 * node_def.proto (NodeDef), attr_value.proto (AttrValue, AttrValue.ListValue), versions.proto
 * (VersionDef), tensor_shape.proto (TensorShapeProto) and types.proto (DataType).
 */

/** A shape in proto3 JSON: int64 sizes as strings (or numbers), -1 for unknown. */
export interface TensorShapeJson {
  dim?: { size: string | number; name?: string }[];
  unknownRank?: boolean;
}

/**
 * An AttrValue in proto3 JSON: exactly one member set. `s` is bytes, so base64 as the mapping
 * says; int64s are strings or numbers; `type` is a DataType name (`DT_FLOAT`) or number.
 */
export interface AttrValueJson {
  s?: string;
  i?: string | number;
  f?: number | string;
  b?: boolean;
  type?: string | number;
  shape?: TensorShapeJson;
  list?: {
    s?: string[];
    i?: (string | number)[];
    f?: (number | string)[];
    b?: boolean[];
    type?: (string | number)[];
    shape?: TensorShapeJson[];
  };
  placeholder?: string;
}

export interface NodeDefJson {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValueJson>;
}

/** A superset of libs/graph's `GraphDef`, which is accepted as it is. */
export interface GraphDefJson {
  node: NodeDefJson[];
  versions?: { producer?: number; minConsumer?: number; badConsumers?: number[] };
}

// Compile-time check that the graph library's export is accepted unchanged.
const _acceptsGraphLibraryExport = (graph: GraphDef): GraphDefJson => graph;

export const GRAPH_DEF_FIELD = { node: 1, versions: 4 } as const;
export const VERSION_DEF_FIELD = { producer: 1, minConsumer: 2, badConsumers: 3 } as const;
export const NODE_DEF_FIELD = { name: 1, op: 2, input: 3, device: 4, attr: 5 } as const;
/** Map entries are messages {key = 1, value = 2}. */
export const MAP_ENTRY_FIELD = { key: 1, value: 2 } as const;
export const ATTR_VALUE_FIELD = { list: 1, s: 2, i: 3, f: 4, b: 5, type: 6, shape: 7, placeholder: 9 } as const;
export const ATTR_LIST_FIELD = { s: 2, i: 3, f: 4, b: 5, type: 6, shape: 7 } as const;

/** tensorflow.DataType values (types.proto). */
export const DATA_TYPES: Readonly<Record<string, number>> = {
  DT_INVALID: 0,
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_COMPLEX64: 8,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_QINT8: 11,
  DT_QUINT8: 12,
  DT_QINT32: 13,
  DT_BFLOAT16: 14,
  DT_QINT16: 15,
  DT_QUINT16: 16,
  DT_UINT16: 17,
  DT_COMPLEX128: 18,
  DT_HALF: 19,
  DT_RESOURCE: 20,
  DT_VARIANT: 21,
  DT_UINT32: 22,
  DT_UINT64: 23,
};

class GraphDefInputError extends Error {
  constructor(where: string, message: string) {
    super(`GraphDef ${where}: ${message}`);
    this.name = 'GraphDefInputError';
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(where: string, text: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new GraphDefInputError(where, `${JSON.stringify(text)} is not base64 (proto3 JSON writes bytes fields, such as an attr's 's', in base64)`);
  }
  return Buffer.from(text, 'base64');
}

function toInt64(where: string, value: string | number): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new GraphDefInputError(where, `${value} is not an integer`);
    return BigInt(value);
  }
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw new GraphDefInputError(where, `${JSON.stringify(value)} is not an integer`);
  return BigInt(value);
}

function toFloat(where: string, value: number | string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  throw new GraphDefInputError(where, `${JSON.stringify(value)} is not a number`);
}

function toDataType(where: string, value: string | number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const known = typeof value === 'string' ? DATA_TYPES[value] : undefined;
  if (known === undefined) throw new GraphDefInputError(where, `unknown data type ${JSON.stringify(value)} (expected a name such as DT_FLOAT)`);
  return known;
}

function writeShape(writer: ProtoWriter, where: string, shape: TensorShapeJson): void {
  for (const [index, dim] of (shape.dim ?? []).entries()) {
    writer.message(2, (d) => {
      const size = toInt64(`${where}.dim[${index}].size`, dim.size);
      if (size !== 0n) d.int64(1, size);
      if (dim.name !== undefined && dim.name !== '') d.string(2, dim.name);
    });
  }
  if (shape.unknownRank === true) writer.bool(3, true);
}

function writeList(writer: ProtoWriter, where: string, list: NonNullable<AttrValueJson['list']>): void {
  for (const s of list.s ?? []) writer.bytes(ATTR_LIST_FIELD.s, decodeBase64(`${where}.s`, s));
  if (list.i !== undefined && list.i.length > 0) writer.packedInt64s(ATTR_LIST_FIELD.i, list.i.map((v, k) => toInt64(`${where}.i[${k}]`, v)));
  if (list.f !== undefined && list.f.length > 0) writer.packedFloats(ATTR_LIST_FIELD.f, list.f.map((v, k) => toFloat(`${where}.f[${k}]`, v)));
  if (list.b !== undefined && list.b.length > 0) writer.packedInt64s(ATTR_LIST_FIELD.b, list.b.map((v) => (v ? 1 : 0)));
  if (list.type !== undefined && list.type.length > 0) writer.packedInt64s(ATTR_LIST_FIELD.type, list.type.map((v, k) => toDataType(`${where}.type[${k}]`, v)));
  for (const [k, shape] of (list.shape ?? []).entries()) writer.message(ATTR_LIST_FIELD.shape, (s) => writeShape(s, `${where}.shape[${k}]`, shape));
}

function writeAttrValue(writer: ProtoWriter, where: string, value: AttrValueJson): void {
  const members = (Object.keys(value) as (keyof AttrValueJson)[]).filter((key) => value[key] !== undefined);
  if (members.length !== 1) {
    throw new GraphDefInputError(where, `an AttrValue holds exactly one of s, i, f, b, type, shape, list, placeholder; this one has ${members.length === 0 ? 'none' : members.join(', ')}`);
  }
  const member = members[0]!;
  switch (member) {
    case 's':
      writer.bytes(ATTR_VALUE_FIELD.s, decodeBase64(`${where}.s`, value.s!));
      break;
    case 'i':
      writer.int64(ATTR_VALUE_FIELD.i, toInt64(`${where}.i`, value.i!));
      break;
    case 'f':
      writer.float(ATTR_VALUE_FIELD.f, toFloat(`${where}.f`, value.f!));
      break;
    case 'b':
      writer.bool(ATTR_VALUE_FIELD.b, value.b === true);
      break;
    case 'type':
      writer.uint(ATTR_VALUE_FIELD.type, toDataType(`${where}.type`, value.type!));
      break;
    case 'shape':
      writer.message(ATTR_VALUE_FIELD.shape, (s) => writeShape(s, `${where}.shape`, value.shape!));
      break;
    case 'list':
      writer.message(ATTR_VALUE_FIELD.list, (l) => writeList(l, `${where}.list`, value.list!));
      break;
    case 'placeholder':
      writer.string(ATTR_VALUE_FIELD.placeholder, value.placeholder!);
      break;
    default:
      throw new GraphDefInputError(where, `unknown AttrValue member '${String(member)}'`);
  }
}

/**
 * `_output_shapes` is a list(shape) in TensorFlow, and TensorBoard's graph view reads
 * `value.list.shape` without checking for `list`: a bare shape there breaks the Graphs tab, so it
 * is written as a list of that one shape.
 */
function normalizeAttr(key: string, value: AttrValueJson): AttrValueJson {
  if (key === '_output_shapes' && value.shape !== undefined && value.list === undefined) {
    const { shape, ...rest } = value;
    return { ...rest, list: { shape: [shape] } };
  }
  return value;
}

/**
 * Encodes a GraphDef. Node names must be unique and non-empty (TensorBoard's graph view keys
 * nodes by name and builds the name-scope tree from the slashes in them); errors name the node
 * and attribute at fault.
 */
export function encodeGraphDef(graph: GraphDefJson): Uint8Array {
  if (graph === null || typeof graph !== 'object' || !Array.isArray(graph.node)) throw new GraphDefInputError('', 'expected an object with a node list');
  const writer = new ProtoWriter();
  const seen = new Set<string>();
  for (const [index, node] of graph.node.entries()) {
    const where = `node[${index}]${typeof node?.name === 'string' && node.name !== '' ? ` '${node.name}'` : ''}`;
    if (typeof node?.name !== 'string' || node.name === '') throw new GraphDefInputError(where, 'a node needs a non-empty name');
    if (typeof node.op !== 'string' || node.op === '') throw new GraphDefInputError(where, 'a node needs a non-empty op');
    if (seen.has(node.name)) throw new GraphDefInputError(where, 'the name is used by an earlier node');
    seen.add(node.name);
    writer.message(GRAPH_DEF_FIELD.node, (n) => {
      n.string(NODE_DEF_FIELD.name, node.name);
      n.string(NODE_DEF_FIELD.op, node.op);
      for (const input of node.input ?? []) n.string(NODE_DEF_FIELD.input, input);
      if (node.device !== undefined && node.device !== '') n.string(NODE_DEF_FIELD.device, node.device);
      // Sorted keys: the same graph always encodes to the same bytes.
      for (const key of Object.keys(node.attr ?? {}).sort()) {
        n.message(NODE_DEF_FIELD.attr, (entry) => {
          entry.string(MAP_ENTRY_FIELD.key, key);
          entry.message(MAP_ENTRY_FIELD.value, (v) => writeAttrValue(v, `${where} attr '${key}'`, normalizeAttr(key, node.attr![key]!)));
        });
      }
    });
  }
  const versions = graph.versions;
  if (versions !== undefined) {
    writer.message(GRAPH_DEF_FIELD.versions, (v) => {
      if ((versions.producer ?? 0) !== 0) v.int64(VERSION_DEF_FIELD.producer, versions.producer!);
      if ((versions.minConsumer ?? 0) !== 0) v.int64(VERSION_DEF_FIELD.minConsumer, versions.minConsumer!);
      if (versions.badConsumers !== undefined && versions.badConsumers.length > 0) v.packedInt64s(VERSION_DEF_FIELD.badConsumers, versions.badConsumers);
    });
  }
  return writer.finish();
}
