import { describe, expect, it } from 'vitest';
import { buildModel, createModelRegistries, modelGraphDef } from './index';

describe('modelGraphDef', () => {
  it('exports the course CNN with one name scope per layer holding its weights', () => {
    const built = buildModel(
      {
        input: { shape: [28, 28, 1] },
        layers: [
          { type: 'conv2d', name: 'conv1', filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' },
          { type: 'maxPool', name: 'pool1', poolSize: 2 },
          { type: 'flatten', name: 'flat' },
          { type: 'dense', name: 'logits', units: 10 },
        ],
      },
      { seed: 1, registries: createModelRegistries() },
    );
    const graph = modelGraphDef(built);
    const byName = new Map(graph.node.map((n) => [n.name, n]));
    expect(byName.get('conv1/kernel')).toMatchObject({ op: 'VariableV2', attr: { shape: { shape: { dim: [{ size: '5' }, { size: '5' }, { size: '1' }, { size: '32' }] } } } });
    const conv = graph.node.find((n) => n.name.startsWith('conv1/') && n.op !== 'VariableV2')!;
    expect(conv.input).toEqual([graph.node[0]!.name, 'conv1/kernel', 'conv1/bias']);
    expect(graph.node[0]!.op).toBe('Placeholder');
    const logits = graph.node.find((n) => n.name.startsWith('logits/') && n.op !== 'VariableV2')!;
    expect(logits.input![0]).toMatch(/^flat\//);
    built.model.dispose();
  });
});
