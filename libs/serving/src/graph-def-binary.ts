import { DataError } from '@dlexp/core';
import {
  base64,
  dataTypeName,
  dataTypeNumber,
  elementCount,
  fromBase64,
  hostDtypeOf,
  type AttrListJson,
  type AttrValueJson,
  type FrozenGraph,
  type GraphDefJson,
  type HostTensor,
  type NameAttrListJson,
  type NodeDefJson,
  type TensorJson,
  type TensorShapeJson,
} from './graph-def';
import { WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT, WireReader, WireWriter } from './proto-wire';

/**
 * The binary protobuf form of tensorflow.GraphDef (a frozen `.pb`, such as Inception-v3's
 * classify_image_graph_def.pb), read into the JSON form plus constants and written back.
 * Field numbers are those of tensorflow/core/framework/{graph,node_def,attr_value,tensor,
 * tensor_shape,versions}.proto. Unknown fields are skipped, as protobuf readers do.
 */

/** More elements than this in one constant is a corrupt shape, not a model (4 GiB of floats). */
const MAX_ELEMENTS = 2 ** 30;

/** Bytes per element of each DataType stored in tensor_content. */
const ITEM_SIZES: Record<string, number> = {
  DT_FLOAT: 4,
  DT_DOUBLE: 8,
  DT_INT32: 4,
  DT_UINT8: 1,
  DT_INT16: 2,
  DT_INT8: 1,
  DT_INT64: 8,
  DT_BOOL: 1,
  DT_UINT16: 2,
  DT_HALF: 2,
  DT_BFLOAT16: 2,
  DT_UINT32: 4,
  DT_UINT64: 8,
};

function readShape(r: WireReader): TensorShapeJson {
  const shape: TensorShapeJson = {};
  while (!r.done()) {
    const tag = r.tag();
    if (tag.field === 2) {
      r.expect(tag, WIRE_BYTES);
      const dimReader = r.message();
      const dim: { size: string; name?: string } = { size: '0' };
      while (!dimReader.done()) {
        const t = dimReader.tag();
        if (t.field === 1) {
          dimReader.expect(t, WIRE_VARINT);
          dim.size = String(dimReader.signedVarint());
        } else if (t.field === 2) {
          dimReader.expect(t, WIRE_BYTES);
          dim.name = dimReader.string();
        } else dimReader.skip(t.wire);
      }
      (shape.dim ??= []).push(dim);
    } else if (tag.field === 3) {
      r.expect(tag, WIRE_VARINT);
      if (r.bool()) shape.unknownRank = true;
    } else r.skip(tag.wire);
  }
  return shape;
}

/** A half-precision (IEEE 754 binary16) value from its bits. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function bfloat16ToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16);
  return view.getFloat32(0);
}

interface RawTensor {
  dtype: string;
  shape: TensorShapeJson | undefined;
  content: Uint8Array | undefined;
  /** The typed value fields, in the order read (only one kind is meaningful per dtype). */
  numbers: number[];
  strings: Uint8Array[];
  at: number;
}

function readRawTensor(r: WireReader): RawTensor {
  const raw: RawTensor = { dtype: 'DT_INVALID', shape: undefined, content: undefined, numbers: [], strings: [], at: r.offset };
  while (!r.done()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WIRE_VARINT);
        raw.dtype = dataTypeName(r.varint());
        break;
      case 2:
        r.expect(tag, WIRE_BYTES);
        raw.shape = readShape(r.message());
        break;
      case 4:
        r.expect(tag, WIRE_BYTES);
        raw.content = r.bytesField();
        break;
      case 5: // float_val
        raw.numbers.push(...r.repeated(tag.wire, WIRE_FIXED32, (x) => x.float()));
        break;
      case 6: // double_val
        raw.numbers.push(...r.repeated(tag.wire, WIRE_FIXED64, (x) => x.double()));
        break;
      case 7: // int_val (int32 and the smaller integer types)
      case 10: // int64_val
      case 13: // half_val (the bits of half and bfloat16 values)
      case 16: // uint32_val
      case 17: // uint64_val
        raw.numbers.push(...r.repeated(tag.wire, WIRE_VARINT, (x) => x.signedVarint()));
        break;
      case 11: // bool_val
        raw.numbers.push(...r.repeated(tag.wire, WIRE_VARINT, (x) => (x.bool() ? 1 : 0)));
        break;
      case 8: // string_val
        r.expect(tag, WIRE_BYTES);
        raw.strings.push(r.bytesField());
        break;
      default:
        r.skip(tag.wire);
    }
  }
  return raw;
}

/** A TensorProto's values as a TF.js-ready tensor, or the reason it cannot be one. */
function toHostTensor(raw: RawTensor, file: string, what: string): HostTensor | { problem: string } {
  const fail = (message: string): never => {
    throw new DataError(`${file}: byte ${raw.at}: ${what}: ${message}`);
  };
  const dims = raw.shape === undefined ? [] : (raw.shape.dim ?? []).map((d) => Number(d.size));
  if (raw.shape?.unknownRank === true || dims.some((d) => !Number.isInteger(d) || d < 0)) fail('a constant needs a fully known shape');
  const count = elementCount(dims);
  if (count > MAX_ELEMENTS) fail(`shape [${dims.join(', ')}] has more elements than any real model`);
  const dtype = hostDtypeOf(raw.dtype);
  if (dtype === undefined) return { problem: `its dtype ${raw.dtype} has no TF.js equivalent` };
  if (dtype === 'string') {
    if (raw.strings.length !== count && !(raw.strings.length === 1 && count > 0)) {
      fail(`${raw.strings.length} strings for shape [${dims.join(', ')}]`);
    }
    const values = raw.strings.length === count ? raw.strings : Array.from({ length: count }, () => raw.strings[0]!);
    return { dtype, shape: dims, values };
  }
  const values = dtype === 'float32' ? new Float32Array(count) : dtype === 'int32' ? new Int32Array(count) : new Uint8Array(count);
  if (raw.content !== undefined && raw.content.length > 0) {
    const size = ITEM_SIZES[raw.dtype]!;
    if (raw.content.length !== count * size) {
      fail(`tensor_content holds ${raw.content.length} bytes but ${raw.dtype} [${dims.join(', ')}] needs ${count * size}`);
    }
    const view = new DataView(raw.content.buffer, raw.content.byteOffset, raw.content.byteLength);
    for (let i = 0; i < count; i++) values[i] = readElement(view, i, raw.dtype);
  } else if (raw.numbers.length > 0) {
    if (raw.numbers.length > count) fail(`${raw.numbers.length} values for shape [${dims.join(', ')}]`);
    const convert = raw.dtype === 'DT_HALF' ? halfToFloat : raw.dtype === 'DT_BFLOAT16' ? bfloat16ToFloat : (v: number) => v;
    // As in TensorFlow, fewer values than elements repeat the last one.
    for (let i = 0; i < count; i++) values[i] = convert(raw.numbers[Math.min(i, raw.numbers.length - 1)]!);
  }
  return { dtype, shape: dims, values } as HostTensor;
}

function readElement(view: DataView, i: number, dtype: string): number {
  switch (dtype) {
    case 'DT_FLOAT':
      return view.getFloat32(i * 4, true);
    case 'DT_DOUBLE':
      return view.getFloat64(i * 8, true);
    case 'DT_INT32':
      return view.getInt32(i * 4, true);
    case 'DT_UINT32':
      return view.getUint32(i * 4, true);
    case 'DT_INT16':
      return view.getInt16(i * 2, true);
    case 'DT_UINT16':
      return view.getUint16(i * 2, true);
    case 'DT_INT8':
      return view.getInt8(i);
    case 'DT_UINT8':
    case 'DT_BOOL':
      return view.getUint8(i);
    case 'DT_INT64':
      return Number(view.getBigInt64(i * 8, true));
    case 'DT_UINT64':
      return Number(view.getBigUint64(i * 8, true));
    case 'DT_HALF':
      return halfToFloat(view.getUint16(i * 2, true));
    case 'DT_BFLOAT16':
      return bfloat16ToFloat(view.getUint16(i * 2, true));
    default:
      return 0;
  }
}

/** A tensor-valued attribute other than a constant's value, kept in the JSON form. */
function rawTensorJson(raw: RawTensor): TensorJson {
  const json: TensorJson = { dtype: raw.dtype };
  if (raw.shape !== undefined) json.tensorShape = raw.shape;
  if (raw.content !== undefined) json.tensorContent = base64(raw.content);
  if (raw.strings.length > 0) json.stringVal = raw.strings.map(base64);
  if (raw.numbers.length > 0) {
    const kind = hostDtypeOf(raw.dtype);
    if (kind === 'float32') json.floatVal = raw.numbers;
    else if (kind === 'bool') json.boolVal = raw.numbers.map((n) => n !== 0);
    else if (raw.dtype === 'DT_INT64') json.int64Val = raw.numbers.map(String);
    else json.intVal = raw.numbers;
  }
  return json;
}

function readNameAttrList(r: WireReader): NameAttrListJson {
  const func: NameAttrListJson = {};
  while (!r.done()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WIRE_BYTES);
      func.name = r.string();
    } else if (tag.field === 2) {
      r.expect(tag, WIRE_BYTES);
      const [key, value] = readAttrEntry(r.message());
      (func.attr ??= {})[key] = value;
    } else r.skip(tag.wire);
  }
  return func;
}

function readAttrList(r: WireReader): AttrListJson {
  const list: AttrListJson = {};
  while (!r.done()) {
    const tag = r.tag();
    switch (tag.field) {
      case 2:
        r.expect(tag, WIRE_BYTES);
        (list.s ??= []).push(base64(r.bytesField()));
        break;
      case 3:
        (list.i ??= []).push(...r.repeated(tag.wire, WIRE_VARINT, (x) => String(x.signedVarint())));
        break;
      case 4:
        (list.f ??= []).push(...r.repeated(tag.wire, WIRE_FIXED32, (x) => x.float()));
        break;
      case 5:
        (list.b ??= []).push(...r.repeated(tag.wire, WIRE_VARINT, (x) => x.bool()));
        break;
      case 6:
        (list.type ??= []).push(...r.repeated(tag.wire, WIRE_VARINT, (x) => dataTypeName(x.varint())));
        break;
      case 7:
        r.expect(tag, WIRE_BYTES);
        (list.shape ??= []).push(readShape(r.message()));
        break;
      case 8:
        r.expect(tag, WIRE_BYTES);
        (list.tensor ??= []).push(rawTensorJson(readRawTensor(r.message())));
        break;
      case 9:
        r.expect(tag, WIRE_BYTES);
        (list.func ??= []).push(readNameAttrList(r.message()));
        break;
      default:
        r.skip(tag.wire);
    }
  }
  return list;
}

/** One AttrValue. A tensor is returned raw so the caller decides: constant value or JSON. */
function readAttrValue(r: WireReader): { json: AttrValueJson; tensor?: RawTensor } {
  const json: AttrValueJson = {};
  let tensor: RawTensor | undefined;
  while (!r.done()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WIRE_BYTES);
        json.list = readAttrList(r.message());
        break;
      case 2:
        r.expect(tag, WIRE_BYTES);
        json.s = base64(r.bytesField());
        break;
      case 3:
        r.expect(tag, WIRE_VARINT);
        json.i = String(r.signedVarint());
        break;
      case 4:
        r.expect(tag, WIRE_FIXED32);
        json.f = r.float();
        break;
      case 5:
        r.expect(tag, WIRE_VARINT);
        json.b = r.bool();
        break;
      case 6:
        r.expect(tag, WIRE_VARINT);
        json.type = dataTypeName(r.varint());
        break;
      case 7:
        r.expect(tag, WIRE_BYTES);
        json.shape = readShape(r.message());
        break;
      case 8:
        r.expect(tag, WIRE_BYTES);
        tensor = readRawTensor(r.message());
        break;
      case 9:
        r.expect(tag, WIRE_BYTES);
        json.placeholder = r.string();
        break;
      case 10:
        r.expect(tag, WIRE_BYTES);
        json.func = readNameAttrList(r.message());
        break;
      default:
        r.skip(tag.wire);
    }
  }
  if (tensor !== undefined) json.tensor = rawTensorJson(tensor);
  return tensor === undefined ? { json } : { json, tensor };
}

function readAttrEntry(r: WireReader): [string, AttrValueJson, RawTensor?] {
  let key = '';
  let value: AttrValueJson = {};
  let tensor: RawTensor | undefined;
  while (!r.done()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WIRE_BYTES);
      key = r.string();
    } else if (tag.field === 2) {
      r.expect(tag, WIRE_BYTES);
      const read = readAttrValue(r.message());
      value = read.json;
      tensor = read.tensor;
    } else r.skip(tag.wire);
  }
  return [key, value, tensor];
}

/**
 * Reads a binary GraphDef. Const nodes lose their `value` attribute: it becomes the constant of the
 * same name. Any structural problem (truncated file, wrong wire type, a tensor whose content does
 * not fit its shape) is a DataError naming the file and the byte offset.
 */
export function decodeGraphDef(bytes: Uint8Array, file: string): FrozenGraph {
  const r = new WireReader(bytes, file);
  const graph: GraphDefJson = { node: [] };
  const constants = new Map<string, HostTensor>();
  const unreadable = new Map<string, string>();
  while (!r.done()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WIRE_BYTES);
      const nodeAt = r.offset;
      const nr = r.message();
      const node: NodeDefJson = { name: '', op: '' };
      let value: RawTensor | undefined;
      while (!nr.done()) {
        const t = nr.tag();
        if (t.field >= 1 && t.field <= 5) nr.expect(t, WIRE_BYTES);
        if (t.field === 1) node.name = nr.string();
        else if (t.field === 2) node.op = nr.string();
        else if (t.field === 3) (node.input ??= []).push(nr.string());
        else if (t.field === 4) node.device = nr.string();
        else if (t.field === 5) {
          const [key, attr, tensor] = readAttrEntry(nr.message());
          if (key === 'value' && tensor !== undefined) value = tensor;
          (node.attr ??= {})[key] = attr;
        } else nr.skip(t.wire);
      }
      if (node.name === '' || node.op === '') r.fail('a node without a name or an op', nodeAt);
      if (node.op === 'Const' && value !== undefined) {
        delete node.attr!['value'];
        const host = toHostTensor(value, file, `constant '${node.name}'`);
        if ('problem' in host) unreadable.set(node.name, host.problem);
        else constants.set(node.name, host);
      }
      graph.node.push(node);
    } else if (tag.field === 4) {
      r.expect(tag, WIRE_BYTES);
      const vr = r.message();
      const versions: NonNullable<GraphDefJson['versions']> = {};
      while (!vr.done()) {
        const t = vr.tag();
        if (t.field === 1 && t.wire === WIRE_VARINT) versions.producer = vr.signedVarint();
        else if (t.field === 2 && t.wire === WIRE_VARINT) versions.minConsumer = vr.signedVarint();
        else vr.skip(t.wire);
      }
      graph.versions = versions;
    } else r.skip(tag.wire);
  }
  const frozen: FrozenGraph = { graph, constants };
  if (unreadable.size > 0) frozen.unreadableConstants = unreadable;
  return frozen;
}

// ---------------------------------------------------------------------------------------------
// Writing

function writeShape(shape: TensorShapeJson): WireWriter {
  const w = new WireWriter();
  for (const dim of shape.dim ?? []) {
    const d = new WireWriter().varint(1, Number(dim.size));
    if (dim.name !== undefined && dim.name !== '') d.string(2, dim.name);
    w.message(2, d);
  }
  if (shape.unknownRank === true) w.bool(3, true);
  return w;
}

/** A constant as a TensorProto with its values inlined in tensor_content (strings in string_val). */
export function writeHostTensor(tensor: HostTensor): WireWriter {
  const w = new WireWriter();
  const dtypeName = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' }[tensor.dtype];
  w.varint(1, dataTypeNumber(dtypeName));
  w.message(2, writeShape({ dim: tensor.shape.map((s) => ({ size: String(s) })) }));
  if (tensor.dtype === 'string') {
    for (const s of tensor.values) w.bytes(8, s);
  } else {
    const v = tensor.values;
    w.bytes(4, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return w;
}

function writeTensorJson(tensor: TensorJson): WireWriter {
  const w = new WireWriter();
  if (tensor.dtype !== undefined) w.varint(1, dataTypeNumber(tensor.dtype));
  if (tensor.tensorShape !== undefined) w.message(2, writeShape(tensor.tensorShape));
  if (tensor.tensorContent !== undefined) w.bytes(4, fromBase64(tensor.tensorContent));
  if (tensor.floatVal !== undefined) w.packedFloats(5, tensor.floatVal);
  if (tensor.intVal !== undefined) w.packedVarints(7, tensor.intVal);
  for (const s of tensor.stringVal ?? []) w.bytes(8, fromBase64(s));
  if (tensor.int64Val !== undefined) w.packedVarints(10, tensor.int64Val.map(Number));
  if (tensor.boolVal !== undefined) w.packedVarints(11, tensor.boolVal.map((b) => (b ? 1 : 0)));
  return w;
}

function writeNameAttrList(func: NameAttrListJson): WireWriter {
  const w = new WireWriter();
  if (func.name !== undefined) w.string(1, func.name);
  for (const [key, value] of Object.entries(func.attr ?? {})) w.message(2, writeAttrEntry(key, value));
  return w;
}

function writeAttrValue(attr: AttrValueJson, tensor?: HostTensor): WireWriter {
  const w = new WireWriter();
  if (attr.list !== undefined) {
    const l = new WireWriter();
    const list = attr.list;
    for (const s of list.s ?? []) l.bytes(2, fromBase64(s));
    if (list.i !== undefined) l.packedVarints(3, list.i.map(Number));
    if (list.f !== undefined) l.packedFloats(4, list.f);
    if (list.b !== undefined) l.packedVarints(5, list.b.map((b) => (b ? 1 : 0)));
    if (list.type !== undefined) l.packedVarints(6, list.type.map(dataTypeNumber));
    for (const s of list.shape ?? []) l.message(7, writeShape(s));
    for (const t of list.tensor ?? []) l.message(8, writeTensorJson(t));
    for (const f of list.func ?? []) l.message(9, writeNameAttrList(f));
    w.message(1, l);
  }
  if (attr.s !== undefined) w.bytes(2, fromBase64(attr.s));
  if (attr.i !== undefined) w.varint(3, Number(attr.i));
  if (attr.f !== undefined) w.float(4, attr.f);
  if (attr.b !== undefined) w.bool(5, attr.b);
  if (attr.type !== undefined) w.varint(6, dataTypeNumber(attr.type));
  if (attr.shape !== undefined) w.message(7, writeShape(attr.shape));
  if (tensor !== undefined) w.message(8, writeHostTensor(tensor));
  else if (attr.tensor !== undefined) w.message(8, writeTensorJson(attr.tensor));
  if (attr.placeholder !== undefined) w.string(9, attr.placeholder);
  if (attr.func !== undefined) w.message(10, writeNameAttrList(attr.func));
  return w;
}

function writeAttrEntry(key: string, value: AttrValueJson, tensor?: HostTensor): WireWriter {
  return new WireWriter().string(1, key).message(2, writeAttrValue(value, tensor));
}

/**
 * A binary GraphDef: every constant inlined as its Const node's `value` (a frozen graph), or, with
 * `constants: 'shapes-only'`, values left out (for viewers such as TensorBoard, which need the
 * structure only).
 */
export function encodeGraphDef(frozen: FrozenGraph, options: { constants?: 'inline' | 'shapes-only' } = {}): Uint8Array {
  const inline = (options.constants ?? 'inline') === 'inline';
  const w = new WireWriter();
  for (const node of frozen.graph.node) {
    const n = new WireWriter().string(1, node.name).string(2, node.op);
    for (const input of node.input ?? []) n.string(3, input);
    if (node.device !== undefined && node.device !== '') n.string(4, node.device);
    // Attributes sorted by key, as TensorFlow writes them, so the bytes do not depend on build order.
    const attrs = Object.entries(node.attr ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const constant = node.op === 'Const' ? frozen.constants.get(node.name) : undefined;
    if (constant !== undefined) {
      const valueAttr = inline ? constant : { ...constant, values: emptyValues(constant) } as HostTensor;
      const entries: [string, AttrValueJson, HostTensor?][] = attrs.map(([k, v]) => [k, v]);
      entries.push(['value', {}, valueAttr]);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [key, value, tensor] of entries) n.message(5, writeAttrEntry(key, value, tensor));
    } else {
      for (const [key, value] of attrs) n.message(5, writeAttrEntry(key, value));
    }
    w.message(1, n);
  }
  const versions = new WireWriter();
  if (frozen.graph.versions?.producer !== undefined) versions.varint(1, frozen.graph.versions.producer);
  if (frozen.graph.versions?.minConsumer !== undefined) versions.varint(2, frozen.graph.versions.minConsumer);
  w.message(4, versions);
  return w.finish();
}

function emptyValues(tensor: HostTensor): HostTensor['values'] {
  switch (tensor.dtype) {
    case 'float32':
      return new Float32Array(0);
    case 'int32':
      return new Int32Array(0);
    case 'bool':
      return new Uint8Array(0);
    case 'string':
      return [];
  }
}
