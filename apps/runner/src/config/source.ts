import { readFileSync } from 'node:fs';
import { Document, LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type Pair } from 'yaml';
import { ConfigError, formatPath, parsePath, PathSyntaxError, type Diagnostic, type PathSegment } from '@dlexp/core';

/** Aliases are expanded at most this many times, so a "billion laughs" file is an error, not a hang. */
const MAX_ALIAS_COUNT = 100;

/** Where a value came from when it did not come from the file itself. */
interface Override {
  path: PathSegment[];
  /** The shallowest key the override created (it was not in the file), if any. */
  createdAt?: PathSegment[];
  /** Where the override was written: an option on the command line (line 1) or a quick.set entry. */
  file: string;
  line: number;
  /** Column of the value; a created key is reported at `keyCol`. */
  col: number;
  keyCol: number;
}

/**
 * An experiment file parsed with positions kept, so every later problem (schema, semantic rules,
 * run-time config errors) can be reported at the line and column of the YAML node it is about.
 */
export class ExperimentSource {
  private readonly overrides: Override[] = [];

  private constructor(
    readonly file: string,
    readonly document: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Parses the file; YAML syntax problems, an empty file or a non-mapping are ConfigErrors. */
  static read(file: string, displayName = file): ExperimentSource {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new ConfigError([{ file: displayName, line: 1, col: 1, path: '', message: `cannot read the experiment: ${reason}` }]);
    }
    return ExperimentSource.parse(text, displayName);
  }

  static parse(text: string, file: string): ExperimentSource {
    const lines = new LineCounter();
    const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
    const source = new ExperimentSource(file, document, lines);
    const problems: Diagnostic[] = [...document.errors, ...document.warnings].map((error) => {
      const position = lines.linePos(error.pos[0]);
      return { file, line: position.line, col: position.col, path: '', message: firstLine(error.message) };
    });
    if (problems.length === 0) {
      if (document.contents === null || (isScalar(document.contents) && document.contents.value === null)) {
        problems.push({ file, line: 1, col: 1, path: '', message: 'the experiment is empty; it must be a mapping with at least name, data, model and train' });
      } else if (!isMap(document.contents)) {
        problems.push({ file, line: 1, col: 1, path: '', message: 'the experiment must be a mapping (key: value pairs) at its top level' });
      }
    }
    if (problems.length === 0) {
      try {
        document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (error) {
        problems.push({ file, line: 1, col: 1, path: '', message: firstLine((error as Error).message) });
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return source;
  }

  /** The plain data of the document as it stands (after overrides). */
  toData(): Record<string, unknown> {
    return this.document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  }

  /**
   * Applies `--set path=value` arguments (the value is parsed as YAML). Problems with the argument
   * itself are reported against `--set` with the column inside the argument.
   */
  applySetArguments(args: string[], label = '--set'): void {
    const problems: Diagnostic[] = [];
    for (const arg of args) {
      const equals = arg.indexOf('=');
      if (equals <= 0) {
        problems.push({ file: label, line: 1, col: 1, path: '', message: `'${arg}' must look like path=value (for example train.optimizer.learningRate=0.1)` });
        continue;
      }
      const pathText = arg.slice(0, equals);
      const valueText = arg.slice(equals + 1);
      let path: PathSegment[];
      try {
        path = parsePath(pathText);
      } catch (error) {
        const offset = error instanceof PathSyntaxError ? error.offset : 0;
        problems.push({ file: label, line: 1, col: offset + 1, path: pathText, message: (error as Error).message });
        continue;
      }
      const valueDocument = parseDocument(valueText, { prettyErrors: false });
      if (valueDocument.errors.length > 0) {
        problems.push({ file: label, line: 1, col: equals + 2, path: pathText, message: `the value '${valueText}' is not valid YAML: ${firstLine(valueDocument.errors[0]!.message)}` });
        continue;
      }
      const problem = this.setNode(path, this.document.createNode(valueDocument.toJS()));
      if (problem !== undefined) {
        problems.push({ file: label, line: 1, col: 1, path: pathText, message: problem });
        continue;
      }
      this.overrides.push({ path, file: label, line: 1, col: equals + 2, keyCol: 1, ...(this.lastCreated !== undefined ? { createdAt: this.lastCreated } : {}) });
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /**
   * Applies the file's own `quick.set` block (under `--quick`): the value nodes are moved with their
   * positions, so problems in them point into the `quick:` block.
   */
  applyQuickBlock(): void {
    const quickSet = this.document.getIn(['quick', 'set'], true);
    if (quickSet === undefined || !isMap(quickSet)) return;
    const problems: Diagnostic[] = [];
    for (const pair of quickSet.items) {
      const keyText = isScalar(pair.key) ? String(pair.key.value) : '';
      let path: PathSegment[];
      try {
        path = parsePath(keyText);
      } catch (error) {
        const position = this.positionOfNode(pair.key as Node);
        problems.push({ file: this.file, ...position, path: `quick.set[${keyText}]`, message: (error as Error).message });
        continue;
      }
      const problem = this.setNode(path, pair.value as Node);
      const keyPosition = this.positionOfNode(pair.key as Node);
      if (problem !== undefined) {
        problems.push({ file: this.file, ...keyPosition, path: `quick.set[${keyText}]`, message: problem });
      } else if (this.lastCreated !== undefined) {
        // The value node keeps its own position; a key it created has none, so it points at the entry.
        this.overrides.push({ path, createdAt: this.lastCreated, file: this.file, line: keyPosition.line, col: keyPosition.col, keyCol: keyPosition.col });
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /**
   * Where a path points: the YAML node's line and column, or for a missing key the closest
   * existing parent. With `atKey`, the key of the last segment (for "unknown key" problems).
   */
  locate(path: PathSegment[], options: { atKey?: boolean } = {}): Diagnostic {
    const pathText = formatPath(path);
    // A problem inside an overridden value, or at a key an override created, belongs to the override.
    const override = [...this.overrides].reverse().find((o) => startsWith(path, o.path) || (o.createdAt !== undefined && startsWith(path, o.createdAt)));
    if (override !== undefined) {
      const inValue = startsWith(path, override.path);
      return { file: override.file, line: override.line, col: inValue ? override.col : override.keyCol, path: pathText, message: '' };
    }
    let node: unknown = this.document.contents;
    let last: unknown = node;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      let pair: Pair | undefined;
      if (isMap(node)) {
        pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair === undefined) break;
        if (options.atKey === true && i === path.length - 1) {
          last = pair.key;
          break;
        }
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        if (node === undefined) break;
      } else break;
      last = node ?? pair?.key;
    }
    const position = this.positionOfNode(last as Node | undefined);
    return { file: this.file, ...position, path: pathText, message: '' };
  }

  /** A diagnostic at a path with a message. `offset` moves the column into a scalar's text. */
  diagnostic(path: PathSegment[], message: string, options: { atKey?: boolean; offset?: number } = {}): Diagnostic {
    const where = this.locate(path, options);
    if (options.offset !== undefined && where.file === this.file) {
      const node = this.document.getIn(path, true);
      if (isScalar(node) && (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
        where.col += options.offset + (node.type === 'PLAIN' ? 0 : 1);
      }
    }
    return { ...where, message };
  }

  private positionOfNode(node: Node | undefined): { line: number; col: number } {
    const offset = node !== undefined && isNodeWithRange(node) ? node.range![0] : 0;
    const position = this.lines.linePos(offset);
    return { line: position.line, col: position.col };
  }

  /** Where the last setNode created a key the file did not have. */
  private lastCreated: PathSegment[] | undefined;

  private setNode(path: PathSegment[], value: Node): string | undefined {
    this.lastCreated = undefined;
    // Walk the existing structure so that list indices are checked (a typo must not grow a list).
    let node: unknown = this.document.contents;
    for (let i = 0; i < path.length - 1; i++) {
      const segment = path[i]!;
      if (isMap(node)) {
        const next = node.get(segment, true);
        if (next === undefined || (isScalar(next) && next.value === null)) {
          const created = this.document.createNode({});
          node.set(segment, created);
          this.lastCreated ??= path.slice(0, i + 1);
          node = created;
        } else node = next;
      } else if (isSeq(node)) {
        if (typeof segment !== 'number') return `${formatPath(path.slice(0, i)) || 'the document'} is a list; '${segment}' is not an index`;
        if (segment >= node.items.length) return `${formatPath(path.slice(0, i))} has ${node.items.length} items; index ${segment} is out of range`;
        node = node.items[segment];
      } else {
        return `${formatPath(path.slice(0, i)) || 'the document'} is not a mapping or list, so '${formatPath(path)}' cannot be set`;
      }
    }
    const lastSegment = path[path.length - 1]!;
    if (isMap(node)) {
      if (!node.has(lastSegment)) this.lastCreated ??= path;
      node.set(lastSegment, value);
    }
    else if (isSeq(node)) {
      if (typeof lastSegment !== 'number') return `${formatPath(path.slice(0, -1))} is a list; '${lastSegment}' is not an index`;
      if (lastSegment > node.items.length) return `${formatPath(path.slice(0, -1))} has ${node.items.length} items; index ${lastSegment} is out of range`;
      node.items[lastSegment] = value;
    } else return `${formatPath(path.slice(0, -1)) || 'the document'} is not a mapping or list, so '${formatPath(path)}' cannot be set`;
    return undefined;
  }
}

function isNodeWithRange(node: unknown): node is Node {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray((node as Node).range);
}

function startsWith(path: PathSegment[], prefix: PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i]));
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

