/**
 * TensorFlow's GraphDef in its JSON form (the proto3 JSON mapping), as the TensorFlow.js converter
 * writes it into a graph model's `modelTopology` and as tfjs-converter reads it. Strings (`s`) are
 * base64, 64-bit integers are decimal strings. Constant values live beside the graph as
 * {@link HostTensor}s keyed by node name (a graph model's weights), not inside `attr.value`.
 */

export interface TensorShapeJson {
  dim?: { size: string; name?: string }[];
  unknownRank?: boolean;
}

/** A tensor held by an attribute other than a constant's value (rare: most graphs have none). */
export interface TensorJson {
  dtype?: string;
  tensorShape?: TensorShapeJson;
  tensorContent?: string;
  floatVal?: number[];
  intVal?: number[];
  int64Val?: string[];
  boolVal?: boolean[];
  stringVal?: string[];
}

export interface NameAttrListJson {
  name?: string;
  attr?: Record<string, AttrValueJson>;
}

export interface AttrListJson {
  s?: string[];
  i?: string[];
  f?: number[];
  b?: boolean[];
  type?: string[];
  shape?: TensorShapeJson[];
  tensor?: TensorJson[];
  func?: NameAttrListJson[];
}

export interface AttrValueJson {
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TensorShapeJson;
  tensor?: TensorJson;
  list?: AttrListJson;
  func?: NameAttrListJson;
  placeholder?: string;
}

export interface NodeDefJson {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValueJson>;
}

export interface GraphDefJson {
  node: NodeDefJson[];
  versions?: { producer?: number; minConsumer?: number; badConsumers?: number[] };
}

/** The element types a constant is converted to: what TF.js tensors hold. */
export type HostTensor =
  | { dtype: 'float32'; shape: number[]; values: Float32Array }
  | { dtype: 'int32'; shape: number[]; values: Int32Array }
  | { dtype: 'bool'; shape: number[]; values: Uint8Array }
  | { dtype: 'string'; shape: number[]; values: Uint8Array[] };

export type HostDtype = HostTensor['dtype'];

/** A graph of real TF ops with its constants: what every loader produces and every writer takes. */
export interface FrozenGraph {
  graph: GraphDefJson;
  /** Const node name → value. */
  constants: Map<string, HostTensor>;
  /** Const nodes whose value could not be converted (complex, quantized...), with the reason. */
  unreadableConstants?: Map<string, string>;
}

/** tensorflow.DataType, by enum number. */
export const DATA_TYPES: readonly string[] = [
  'DT_INVALID',
  'DT_FLOAT',
  'DT_DOUBLE',
  'DT_INT32',
  'DT_UINT8',
  'DT_INT16',
  'DT_INT8',
  'DT_STRING',
  'DT_COMPLEX64',
  'DT_INT64',
  'DT_BOOL',
  'DT_QINT8',
  'DT_QUINT8',
  'DT_QINT32',
  'DT_BFLOAT16',
  'DT_QINT16',
  'DT_QUINT16',
  'DT_UINT16',
  'DT_COMPLEX128',
  'DT_HALF',
  'DT_RESOURCE',
  'DT_VARIANT',
  'DT_UINT32',
  'DT_UINT64',
];

/** The enum name of a DataType number; reference types (number + 100) keep their `_REF` suffix. */
export function dataTypeName(value: number): string {
  if (value > 100 && value - 100 < DATA_TYPES.length) return `${DATA_TYPES[value - 100]}_REF`;
  return DATA_TYPES[value] ?? `DT_UNKNOWN_${value}`;
}

export function dataTypeNumber(name: string): number {
  const ref = name.endsWith('_REF');
  const index = DATA_TYPES.indexOf(ref ? name.slice(0, -4) : name);
  return index < 0 ? 0 : ref ? index + 100 : index;
}

const HOST_DTYPES: Record<HostDtype, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' };

export function dtypeName(dtype: HostDtype): string {
  return HOST_DTYPES[dtype];
}

/** The TF.js dtype a TF DataType runs as, the way tfjs-converter maps it; undefined when it has none. */
export function hostDtypeOf(name: string | undefined): HostDtype | undefined {
  switch (name?.replace(/_REF$/, '')) {
    case 'DT_FLOAT':
    case 'DT_DOUBLE':
    case 'DT_HALF':
    case 'DT_BFLOAT16':
      return 'float32';
    case 'DT_INT32':
    case 'DT_INT64':
    case 'DT_INT16':
    case 'DT_INT8':
    case 'DT_UINT8':
    case 'DT_UINT16':
    case 'DT_UINT32':
    case 'DT_UINT64':
      return 'int32';
    case 'DT_BOOL':
      return 'bool';
    case 'DT_STRING':
      return 'string';
    default:
      return undefined;
  }
}

export function shapeJson(shape: readonly (number | null)[] | undefined): TensorShapeJson {
  if (shape === undefined) return { unknownRank: true };
  return { dim: shape.map((size) => ({ size: String(size ?? -1) })) };
}

/** A shape attribute's sizes (-1 where unknown), or undefined for an unknown rank. */
export function shapeOf(shape: TensorShapeJson | undefined): number[] | undefined {
  if (shape === undefined || shape.unknownRank === true) return undefined;
  return (shape.dim ?? []).map((d) => Number(d.size));
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The node name and output index of a tensor name: `softmax:0` → [softmax, 0]; `^dep` (a control input) → [dep, -1]. */
export function parseTensorName(name: string): [string, number] {
  if (name.startsWith('^')) return [name.slice(1), -1];
  const match = /^(.*):(\d+)$/.exec(name);
  return match === null ? [name, 0] : [match[1]!, Number(match[2])];
}

export function tensorName(node: string, index: number): string {
  return `${node}:${index}`;
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** A string attribute (`padding: SAME`) as JSON: base64 of its UTF-8 bytes. */
export function stringAttr(value: string): AttrValueJson {
  return { s: Buffer.from(value, 'utf8').toString('base64') };
}

export function readStringAttr(attr: AttrValueJson | undefined): string | undefined {
  return attr?.s === undefined ? undefined : Buffer.from(attr.s, 'base64').toString('utf8');
}

export function intsAttr(values: readonly number[]): AttrValueJson {
  return { list: { i: values.map(String) } };
}

export function typeAttr(dtype: HostDtype): AttrValueJson {
  return { type: dtypeName(dtype) };
}
