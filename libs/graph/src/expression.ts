import { didYouMean } from '@dlexp/core';
import type { Graph, GraphNode } from './graph';

/**
 * A small parser for the arithmetic the course writes inline (`k * x + b`,
 * `tanh(matmul(x, W1) + b1)`, `reduceMean(square(y - prediction))`). Experiments are data: an
 * expression becomes graph nodes, it is never evaluated as code.
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '@') unary)*      '@' is matrix product
 *   unary   := '-' unary | power
 *   power   := primary ('^' unary)?
 *   primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
 */
export class ExpressionError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} (at column ${offset + 1} of the expression)`);
    this.name = 'ExpressionError';
  }
}

export type Expression =
  | { kind: 'number'; value: number; offset: number }
  | { kind: 'name'; name: string; offset: number }
  | { kind: 'call'; fn: string; args: Expression[]; offset: number };

interface Token {
  kind: 'number' | 'name' | 'punct' | 'end';
  text: string;
  offset: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const number = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i));
    if (number !== null) {
      tokens.push({ kind: 'number', text: number[0], offset: i });
      i += number[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (name !== null) {
      tokens.push({ kind: 'name', text: name[0], offset: i });
      i += name[0].length;
      continue;
    }
    if ('+-*/@^(),'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, offset: i });
      i++;
      continue;
    }
    throw new ExpressionError(i, `unexpected character '${c}'`);
  }
  tokens.push({ kind: 'end', text: '', offset: text.length });
  return tokens;
}

const BINARY_OPS: Record<string, string> = { '+': 'add', '-': 'subtract', '*': 'multiply', '/': 'divide', '@': 'matmul', '^': 'pow' };

export function parseExpression(text: string): Expression {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position]!;
  const take = () => tokens[position++]!;
  const expect = (punct: string) => {
    const token = take();
    if (token.text !== punct) throw new ExpressionError(token.offset, `expected '${punct}' but found ${describe(token)}`);
  };

  const binaryLevel = (operators: string, next: () => Expression) => (): Expression => {
    let left = next();
    while (peek().kind === 'punct' && operators.includes(peek().text)) {
      const op = take();
      left = { kind: 'call', fn: BINARY_OPS[op.text]!, args: [left, next()], offset: op.offset };
    }
    return left;
  };

  const primary = (): Expression => {
    const token = take();
    if (token.kind === 'number') return { kind: 'number', value: Number(token.text), offset: token.offset };
    if (token.kind === 'name') {
      if (peek().text !== '(') return { kind: 'name', name: token.text, offset: token.offset };
      take();
      const args = [expression()];
      while (peek().text === ',') {
        take();
        args.push(expression());
      }
      expect(')');
      return { kind: 'call', fn: token.text, args, offset: token.offset };
    }
    if (token.text === '(') {
      const inner = expression();
      expect(')');
      return inner;
    }
    throw new ExpressionError(token.offset, `expected a number, a name or '(' but found ${describe(token)}`);
  };
  const power = (): Expression => {
    const base = primary();
    if (peek().text !== '^') return base;
    const op = take();
    return { kind: 'call', fn: 'pow', args: [base, unary()], offset: op.offset };
  };
  const unary = (): Expression => {
    if (peek().text === '-') {
      const op = take();
      return { kind: 'call', fn: 'negate', args: [unary()], offset: op.offset };
    }
    return power();
  };
  const term = binaryLevel('*/@', unary);
  const expression = binaryLevel('+-', term);

  const result = expression();
  if (peek().kind !== 'end') throw new ExpressionError(peek().offset, `unexpected ${describe(peek())}`);
  return result;
}

function describe(token: Token): string {
  return token.kind === 'end' ? 'the end of the expression' : `'${token.text}'`;
}

/** Every name an expression refers to (not the functions it calls), with offsets. */
export function referencedNames(expression: Expression): { name: string; offset: number }[] {
  if (expression.kind === 'name') return [{ name: expression.name, offset: expression.offset }];
  if (expression.kind === 'call') return expression.args.flatMap(referencedNames);
  return [];
}

/**
 * Adds the nodes of an expression to the graph. `lookup` maps a name written in the expression to
 * an existing node (placeholder, variable or an earlier named node).
 */
export function buildExpression(
  graph: Graph,
  expression: Expression,
  lookup: (name: string) => GraphNode | undefined,
  knownNames: () => string[],
  /** Name for the expression's own node (its outermost op); inner nodes get generated names. */
  name?: string,
): GraphNode | number {
  switch (expression.kind) {
    case 'number':
      return expression.value;
    case 'name': {
      const node = lookup(expression.name);
      if (node === undefined) {
        throw new ExpressionError(expression.offset, `unknown name '${expression.name}'${didYouMean(expression.name, knownNames())}`);
      }
      return node;
    }
    case 'call': {
      if (!graph.ops.has(expression.fn)) {
        throw new ExpressionError(expression.offset, `unknown function '${expression.fn}'${didYouMean(expression.fn, graph.ops.names())}`);
      }
      const arity = graph.ops.get(expression.fn).create({}, undefined).arity;
      if (arity !== 'variadic' && arity !== expression.args.length) {
        throw new ExpressionError(expression.offset, `${expression.fn} takes ${arity} argument(s), got ${expression.args.length}`);
      }
      const args = expression.args.map((arg) => buildExpression(graph, arg, lookup, knownNames));
      return graph.op(expression.fn, args, name);
    }
  }
}
