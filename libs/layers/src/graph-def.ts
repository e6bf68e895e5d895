import type * as tf from '@tensorflow/tfjs';
import { GraphDefBuilder, dtypeAttr, shapeAttr, type GraphDef } from '@dlexp/graph';
import type { BuiltModel } from './model';

/**
 * A built layer model as a TensorFlow GraphDef: each layer is a name scope holding its weights
 * (`conv1/kernel`) and one op node named after the layer's class (`conv1/Conv2D`) whose inputs
 * are the layers it reads from and its weights; model inputs are placeholders.
 */
export function modelGraphDef(built: BuiltModel | tf.LayersModel): GraphDef {
  const model = 'model' in built ? built.model : built;
  const builder = new GraphDefBuilder();
  const outputOf = new Map<string, string>();
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') {
      const shape = (layer.batchInputShape ?? []) as (number | null)[];
      outputOf.set(layer.name, builder.add(layer.name, 'Placeholder', [], { dtype: dtypeAttr(layer.dtype ?? 'float32'), shape: shapeAttr(shape) }));
      continue;
    }
    const inbound = layer.inboundNodes.flatMap((node) => node.inboundLayers.map((l) => outputOf.get(l.name)).filter((n): n is string => n !== undefined));
    const output = builder.nameScope(layer.name, () => {
      const weights = layer.weights.map((w) => {
        const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
        return builder.add(short, 'VariableV2', [], { dtype: dtypeAttr(w.dtype), shape: shapeAttr(w.shape) });
      });
      const outputShape = layer.outputShape as (number | null)[];
      return builder.add(className, className, [...inbound, ...weights], { T: dtypeAttr('float32'), _output_shapes: shapeAttr(Array.isArray(outputShape[0]) ? undefined : outputShape) });
    });
    outputOf.set(layer.name, output);
  }
  return builder.build();
}
