import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { Document, LineCounter, Pair, YAMLMap, YAMLSeq, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { ConfigError, didYouMean, formatPath, parsePath, PathSyntaxError, type Diagnostic, type PathSegment } from '@dlexp/core';

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

/** The file a YAML node was written in, for nodes merged in from a base experiment (`extends`). */
interface Origin {
  file: string;
  /** The file's absolute path, for paths written in it (plugins). */
  absolute: string;
  lines: LineCounter;
}

/** How many files an `extends` chain may hold: deeper is surely a mistake, not a design. */
const MAX_EXTENDS_DEPTH = 16;

/**
 * An experiment file parsed with positions kept, so every later problem (schema, semantic rules,
 * run-time config errors) can be reported at the line and column of the YAML node it is about.
 * With `extends: base.yaml`, the base's nodes are merged in and keep their own file and position.
 */
export class ExperimentSource {
  private readonly overrides: Override[] = [];
  /** Nodes that came from a base file (every node of the base, keys and values). */
  private readonly origins = new WeakMap<object, Origin>();
  /** The files of the extends chain, this file first (display names). */
  readonly chain: string[];
  /** This file's absolute path (set by read()). */
  private absolute: string | undefined;

  private constructor(
    readonly file: string,
    readonly document: Document.Parsed,
    private readonly lines: LineCounter,
  ) {
    this.chain = [file];
  }

  /**
   * Parses the file and the chain of files it extends; YAML syntax problems, an empty file, a
   * non-mapping, a missing base or a cycle are ConfigErrors at the position that caused them.
   */
  static read(file: string, displayName = file): ExperimentSource {
    const source = ExperimentSource.parse(readText(file, displayName, undefined), displayName);
    source.absolute = resolve(file);
    source.mergeBases(resolve(file), [resolve(file)]);
    return source;
  }

  /** Follows `extends:` keys: each base is merged under the file that names it, recursively. */
  private mergeBases(absolute: string, seen: string[]): void {
    const contents = this.document.contents as YAMLMap;
    const pair = contents.items.find((p) => isScalar(p.key) && p.key.value === 'extends');
    if (pair === undefined) return;
    const where = this.positionOfNode(pair.value as Node);
    const at = { file: this.displayOf(pair.value as Node), ...where, path: 'extends' };
    if (!isScalar(pair.value) || typeof pair.value.value !== 'string' || pair.value.value === '') {
      throw new ConfigError([{ ...at, message: 'extends must name an experiment file (a path relative to this file)' }]);
    }
    const baseFile = resolve(dirname(absolute), pair.value.value);
    if (seen.includes(baseFile)) {
      const cycle = [...seen.slice(seen.indexOf(baseFile)), baseFile].map((f) => relative(dirname(seen[0]!), f) || f);
      throw new ConfigError([{ ...at, message: `extends makes a cycle: ${cycle.join(' → ')}` }]);
    }
    if (seen.length >= MAX_EXTENDS_DEPTH) throw new ConfigError([{ ...at, message: `extends chains more than ${MAX_EXTENDS_DEPTH} files` }]);
    // Shown as the including file is shown: relative to the same folder, or absolute.
    const baseDisplay = isAbsolute(this.file) ? baseFile : normalize(join(dirname(this.file), pair.value.value));
    const base = ExperimentSource.parse(readText(baseFile, baseDisplay, at), baseDisplay);
    base.absolute = baseFile;
    // The base's own bases first, so its chain is complete before it is merged under this file.
    base.mergeBases(baseFile, [...seen, baseFile]);
    base.markOrigins();
    for (const [node, origin] of base.allOrigins()) this.origins.set(node, origin);
    contents.items.splice(contents.items.indexOf(pair), 1);
    this.document.contents = mergeNodes(base.document.contents as YAMLMap, contents) as typeof this.document.contents;
    this.chain.push(...base.chain);
  }

  /** Records every node of this document as written in this file (before it is merged elsewhere). */
  private markOrigins(): void {
    const origin: Origin = { file: this.file, absolute: this.absolute ?? this.file, lines: this.lines };
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      if (!this.origins.has(node)) this.origins.set(node, origin);
      if (isMap(node) || isSeq(node)) {
        for (const item of node.items as unknown[]) {
          if (item !== null && typeof item === 'object' && 'key' in item) {
            visit((item as Pair).key);
            visit((item as Pair).value);
          } else visit(item);
        }
      }
    };
    visit(this.document.contents);
  }

  private *allOrigins(): Generator<[object, Origin]> {
    const seen = new Set<object>();
    const visit = function* (this: ExperimentSource, node: unknown): Generator<[object, Origin]> {
      if (node === null || typeof node !== 'object' || seen.has(node)) return;
      seen.add(node);
      const origin = this.origins.get(node);
      if (origin !== undefined) yield [node, origin];
      if (isMap(node) || isSeq(node)) {
        for (const item of node.items as unknown[]) {
          if (item !== null && typeof item === 'object' && 'key' in item) {
            yield* visit.call(this, (item as Pair).key);
            yield* visit.call(this, (item as Pair).value);
          } else yield* visit.call(this, item);
        }
      }
    };
    yield* visit.call(this, this.document.contents);
  }

  /**
   * The absolute path of the file that wrote the value at `path` (this file or a base it
   * extends), so a path written in a value resolves against its own file's folder.
   */
  fileOf(path: PathSegment[]): string {
    const node = this.document.getIn(path, true) as Node | undefined;
    return (node !== undefined ? this.origins.get(node)?.absolute : undefined) ?? this.absolute ?? this.file;
  }

  private displayOf(node: Node | undefined): string {
    return (node !== undefined ? this.origins.get(node)?.file : undefined) ?? this.file;
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
      this.overrides.push({ path: this.lastPath, file: label, line: 1, col: equals + 2, keyCol: 1, ...(this.lastCreated !== undefined ? { createdAt: this.lastCreated } : {}) });
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
        problems.push({ file: this.displayOf(pair.key as Node), ...position, path: `quick.set[${keyText}]`, message: (error as Error).message });
        continue;
      }
      const problem = this.setNode(path, pair.value as Node);
      const keyPosition = this.positionOfNode(pair.key as Node);
      if (problem !== undefined) {
        problems.push({ file: this.displayOf(pair.key as Node), ...keyPosition, path: `quick.set[${keyText}]`, message: problem });
      } else if (this.lastCreated !== undefined) {
        // The value node keeps its own position; a key it created has none, so it points at the entry.
        this.overrides.push({ path: this.lastPath, createdAt: this.lastCreated, file: this.displayOf(pair.key as Node), line: keyPosition.line, col: keyPosition.col, keyCol: keyPosition.col });
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
    return { file: this.displayOf(last as Node | undefined), ...position, path: pathText, message: '' };
  }

  /** A diagnostic at a path with a message. `offset` moves the column into a scalar's text. */
  diagnostic(path: PathSegment[], message: string, options: { atKey?: boolean; offset?: number } = {}): Diagnostic {
    const where = this.locate(path, options);
    if (options.offset !== undefined && where.file === this.displayOf(this.document.getIn(path, true) as Node | undefined)) {
      const node = this.document.getIn(path, true);
      if (isScalar(node) && (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
        where.col += options.offset + (node.type === 'PLAIN' ? 0 : 1);
      }
    }
    return { ...where, message };
  }

  private positionOfNode(node: Node | undefined): { line: number; col: number } {
    const offset = node !== undefined && isNodeWithRange(node) ? node.range![0] : 0;
    const lines = (node !== undefined ? this.origins.get(node)?.lines : undefined) ?? this.lines;
    const position = lines.linePos(offset);
    return { line: position.line, col: position.col };
  }

  /**
   * The path with every list item addressed by name replaced by its index
   * (`model.layers[dropout1].rate` → `model.layers.3.rate`). Stops translating at a key the
   * document does not have (an override may create it). Throws when a name matches no item.
   */
  resolvePath(path: PathSegment[]): PathSegment[] {
    const out: PathSegment[] = [];
    let node: unknown = this.document.contents;
    for (const segment of path) {
      if (isSeq(node) && typeof segment === 'string') {
        const index = indexByName(node, segment, out);
        out.push(index);
        node = node.items[index];
      } else {
        out.push(segment);
        node = isMap(node) ? node.get(segment, true) : isSeq(node) && typeof segment === 'number' ? node.items[segment] : undefined;
      }
    }
    return out;
  }

  /** The path the last setNode wrote to, with list items by index. */
  private lastPath: PathSegment[] = [];

  /** Where the last setNode created a key the file did not have. */
  private lastCreated: PathSegment[] | undefined;

  private setNode(written: PathSegment[], value: Node): string | undefined {
    this.lastCreated = undefined;
    let path: PathSegment[];
    try {
      path = this.resolvePath(written);
    } catch (error) {
      return (error as Error).message;
    }
    this.lastPath = path;
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

/** Reads an experiment file; a missing or unreadable one is a ConfigError at `at` (where it is named) or at 1:1. */
function readText(file: string, displayName: string, at: Omit<Diagnostic, 'message'> | undefined): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    if (at !== undefined) throw new ConfigError([{ ...at, message: `cannot read the base experiment ${displayName}: ${reason}` }]);
    throw new ConfigError([{ file: displayName, line: 1, col: 1, path: '', message: `cannot read the experiment: ${reason}` }]);
  }
}

/**
 * `override` merged over `base`: mappings key by key (recursively), anything else (lists,
 * scalars) replaced whole. Nodes are reused, not copied, so they keep their positions.
 */
function mergeNodes(base: unknown, override: unknown): unknown {
  if (!isMap(base) || !isMap(override)) return override;
  const merged = new YAMLMap();
  merged.range = override.range;
  for (const pair of base.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const mine = override.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (mine === undefined) merged.items.push(pair);
  }
  for (const pair of override.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const theirs = base.items.find((p) => isScalar(p.key) && p.key.value === key);
    merged.items.push(theirs === undefined ? pair : new Pair(pair.key, mergeNodes(theirs.value, pair.value)));
  }
  return merged;
}

/** The `name` of a list item written as a mapping (a layer, a graph node), if it has one. */
function itemName(item: unknown): string | undefined {
  if (!isMap(item)) return undefined;
  const name = item.get('name');
  return typeof name === 'string' ? name : undefined;
}

/**
 * The index of the item of `list` named `name`, for paths such as `model.layers[dropout1].rate`.
 * Throws a message with "did you mean" when no item has that name.
 */
function indexByName(list: YAMLSeq, name: string, where: PathSegment[]): number {
  const names = list.items.map(itemName);
  const index = names.indexOf(name);
  if (index >= 0) return index;
  const known = names.filter((n): n is string => n !== undefined);
  const listed = known.length > 0 ? ` (named items: ${known.join(', ')})` : ' (none of its items has a name; give them one, or use an index)';
  throw new Error(`${formatPath(where) || 'the document'} has no item named '${name}'${didYouMean(name, known)}${listed}`);
}
