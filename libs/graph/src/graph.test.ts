import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Graph, Session, GraphError, buildOpGraph, OpGraphError, parseExpression, ExpressionError } from './index';

let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('Session.run: fetch and feed', () => {
  it('fetches several nodes in one run (the course: mul = 3 * (2 + 5))', () => {
    const g = new Graph();
    const input1 = g.constant(3);
    const input2 = g.constant(2);
    const input3 = g.constant(5);
    const add = g.add(input2, input3);
    const mul = g.multiply(input1, add);
    const session = new Session(g);
    expect(session.run([mul, add])).toEqual([21, 7]);
    expect(session.run(mul)).toBe(21);
    session.close();
    g.dispose();
  });

  it('feeds placeholders per run', () => {
    const g = new Graph();
    const a = g.placeholder('input1');
    const b = g.placeholder('input2');
    const out = g.multiply(a, b, 'output');
    const session = new Session(g);
    expect(session.run(out, { input1: [2], input2: [6] })).toEqual([12]);
    expect(session.run('output', new Map([[a, [3]], [b, [4]]]))).toEqual([12]);
    session.close();
    g.dispose();
  });

  it('says which placeholder was not fed and which fetch is unknown', () => {
    const g = new Graph();
    const x = g.placeholder('x', { shape: [null, 1] });
    const y = g.square(x, 'y');
    const session = new Session(g);
    expect(() => session.run(y)).toThrow(/placeholder 'x' must be fed/);
    expect(() => session.run('yy')).toThrow(/no node 'yy'; did you mean 'y'/);
    expect(() => session.run(y, { x: [1, 2] })).toThrow(/expects shape \[\?, 1\], was fed \[2\]/);
    expect(() => session.run(y, { y: [1] })).toThrow(/only placeholders can be fed/);
    session.close();
    g.dispose();
  });
});

describe('variables', () => {
  it('must be initialized explicitly, then keep state across runs (the course counter)', () => {
    const g = new Graph();
    const state = g.variable('counter', 0);
    const next = g.add(state, 1);
    const update = g.assign(state, next);
    const session = new Session(g);
    expect(() => session.run(state)).toThrow(/not initialized/);
    session.initializeVariables();
    const seen = [];
    for (let i = 0; i < 3; i++) {
      session.run(update);
      seen.push(session.run(state));
    }
    expect(seen).toEqual([1, 2, 3]);
    session.initializeVariables();
    expect(session.run(state)).toBe(0);
    session.close();
    g.dispose();
  });

  it('x - a with x = [1, 2], a = [3, 3]', () => {
    const g = new Graph();
    const x = g.variable('x', [1, 2]);
    const a = g.constant([3, 3]);
    const sub = g.subtract(x, a);
    const add = g.add(a, sub);
    const session = new Session(g);
    session.initializeVariables();
    expect(session.run([sub, add])).toEqual([[-2, -1], [1, 2]]);
    session.close();
    g.dispose();
  });
});

describe('name scopes', () => {
  it('prefix node names and number generated names', () => {
    const g = new Graph();
    const [x, w] = g.nameScope('layer1', () => [g.placeholder('x'), g.variable('W', 1)]);
    expect(x!.name).toBe('layer1/x');
    expect(w!.name).toBe('layer1/W');
    const p1 = g.multiply(x!, w!);
    const p2 = g.multiply(x!, w!);
    expect([p1.name, p2.name]).toEqual(['multiply', 'multiply_1']);
    expect(() => g.placeholder('layer1/x')).toThrow(/already exists/);
    g.dispose();
  });
});

describe('gradients', () => {
  it('train the course linear regression to k = 0.1, b = 0.2 with plain gradient descent', () => {
    const g = buildOpGraph({
      placeholders: { x: { shape: [null] }, y: { shape: [null] } },
      variables: { k: { initialValue: () => tf.scalar(0), trainable: true }, b: { initialValue: () => tf.scalar(0), trainable: true } },
      nodes: { prediction: 'k * x + b', loss: 'reduceMean(square(y - prediction))' },
    });
    const xs = Array.from({ length: 100 }, (_, i) => i / 100);
    const ys = xs.map((x) => 0.1 * x + 0.2);
    const session = new Session(g);
    session.initializeVariables();
    const vars = session.variables({ trainableOnly: true });
    for (let step = 0; step < 201; step++) {
      const { value, grads } = session.gradients('loss', { x: xs, y: ys });
      tf.tidy(() => {
        for (const [name, grad] of grads) vars.get(name)!.assign(vars.get(name)!.sub(grad.mul(0.2)));
      });
      tf.dispose([value, ...grads.values()]);
    }
    const [k, b] = session.run(['k', 'b']) as number[];
    expect(k).toBeCloseTo(0.1, 2);
    expect(b).toBeCloseTo(0.2, 2);
    session.close();
    g.dispose();
  });

  it('requires a scalar loss', () => {
    const g = buildOpGraph({ placeholders: { x: { shape: [null] } }, variables: { w: { initialValue: () => tf.scalar(1), trainable: true } }, nodes: { out: 'w * x' } });
    const session = new Session(g);
    session.initializeVariables();
    expect(() => session.gradients('out', { x: [1, 2] })).toThrow(GraphError);
    session.close();
    g.dispose();
  });
});

describe('expressions', () => {
  it('respect precedence, unary minus, powers and matrix products', () => {
    const g = buildOpGraph({
      placeholders: { x: {} },
      variables: {},
      nodes: { a: '1 + 2 * 3', b: '-(1 + 2) ^ 2', c: '(x @ x) / 2', d: 'a' },
    });
    const session = new Session(g);
    expect(session.run(['a', 'b', 'd'])).toEqual([7, -9, 7]);
    expect(session.run('c', { x: [[1, 2], [3, 4]] })).toEqual([[3.5, 5], [7.5, 11]]);
    session.close();
    g.dispose();
  });

  it('never give a generated inner node a name the user chose for a later node', () => {
    const g = buildOpGraph({ placeholders: { x: {} }, variables: {}, nodes: { prediction: 'x * 2 + 1', multiply: 'x * 3' } });
    const session = new Session(g);
    expect(session.run(['prediction', 'multiply'], { x: 1 })).toEqual([3, 3]);
    session.close();
    g.dispose();
  });

  it('report syntax errors with their column', () => {
    expect(() => parseExpression('k * * x')).toThrow(ExpressionError);
    try {
      parseExpression('k * * x');
    } catch (e) {
      expect((e as ExpressionError).offset).toBe(4);
    }
    expect(() => parseExpression('tanh(x')).toThrow(/expected '\)'/);
    expect(() => parseExpression('x $ y')).toThrow(/unexpected character '\$'/);
  });

  it('collect every problem of a graph spec', () => {
    let error: OpGraphError | undefined;
    try {
      buildOpGraph({
        placeholders: { x: {} },
        variables: { k: { initialValue: () => tf.scalar(0), trainable: true } },
        nodes: { p: 'kk * x', q: 'tahn(x)', r: 's + 1', s: 'x' },
      });
    } catch (e) {
      error = e as OpGraphError;
    }
    expect(error).toBeInstanceOf(OpGraphError);
    const messages = error!.problems.map((p) => `${p.path.join('.')}@${p.offset}: ${p.message}`);
    expect(messages).toEqual([
      "nodes.p@0: unknown name 'kk'; did you mean 'k'?",
      "nodes.q@0: unknown function 'tahn'; did you mean 'tanh'?",
      "nodes.r@0: 's' is defined later; nodes may only use the nodes written before them",
    ]);
  });
});

describe('toGraphDef', () => {
  it('exports nodes with TensorFlow op names, inputs, shapes and name scopes', () => {
    const g = new Graph();
    const x = g.placeholder('x', { shape: [null, 1] });
    const w = g.nameScope('layer1', () => g.variable('W', [[1, 2]]));
    g.matmul(x, w, 'out');
    const def = g.toGraphDef();
    expect(def.node.map((n) => [n.name, n.op, n.input ?? []])).toEqual([
      ['x', 'Placeholder', []],
      ['layer1/W', 'VariableV2', []],
      ['out', 'MatMul', ['x', 'layer1/W']],
    ]);
    expect(def.node[0]!.attr!['shape']).toEqual({ shape: { dim: [{ size: '-1' }, { size: '1' }] } });
    g.dispose();
  });
});
