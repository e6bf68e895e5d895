import * as tf from '@tensorflow/tfjs';
import { DataError } from '@dlexp/core';

/** One tensor's place in tensors.bin. */
interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

/**
 * Named tensors as two files: `tensors.bin` (the values, little-endian, one after another) and
 * `tensors.json` (name, shape, dtype and place of each). Used for checkpoints and op-graph models.
 */
export async function encodeTensors(tensors: Map<string, tf.Tensor>): Promise<Map<string, Uint8Array>> {
  const entries: TensorEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    // Read asynchronously: WebGPU in Node has no synchronous read.
    const values = await tensor.data();
    const bytes = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    entries.push({ name, shape: tensor.shape, dtype: tensor.dtype === 'int32' ? 'int32' : 'float32', offset, length: values.length });
    parts.push(bytes);
    offset += bytes.length;
  }
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    bin.set(part, at);
    at += part.length;
  }
  return new Map([
    ['tensors.bin', bin],
    ['tensors.json', new TextEncoder().encode(`${JSON.stringify(entries)}\n`)],
  ]);
}

/** The tensors of files written by encodeTensors; `folder` names them in errors. The caller disposes them. */
export function decodeTensors(files: Map<string, Uint8Array>, folder: string): Map<string, tf.Tensor> {
  const manifest = files.get('tensors.json');
  const data = files.get('tensors.bin');
  if (manifest === undefined || data === undefined) throw new DataError(`${folder}: the saved tensors need tensors.json and tensors.bin`);
  let entries: TensorEntry[];
  try {
    entries = JSON.parse(new TextDecoder().decode(manifest)) as TensorEntry[];
  } catch (error) {
    throw new DataError(`${folder}/tensors.json: not valid JSON: ${(error as Error).message}`);
  }
  const out = new Map<string, tf.Tensor>();
  for (const entry of entries) {
    const end = entry.offset + entry.length * 4;
    if (end > data.length) {
      tf.dispose([...out.values()]);
      throw new DataError(`${folder}/tensors.bin: truncated at byte ${data.length}; '${entry.name}' needs bytes ${entry.offset} to ${end}`);
    }
    const copy = data.buffer.slice(data.byteOffset + entry.offset, data.byteOffset + end);
    const values = entry.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    out.set(entry.name, tf.tensor(values, entry.shape, entry.dtype));
  }
  return out;
}
