import { didYouMean } from './suggest';
import type { ParamSchema } from './params';

/**
 * One entry of a registry: its YAML name (written once, here), its parameters, a description,
 * and how to create the thing it names.
 */
export interface RegistryEntry<Params, Context, Product> {
  name: string;
  description: string;
  params: ParamSchema<Params>;
  create(params: Params, context: Context): Product;
}

// The registry stores entries with different parameter types side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEntry<Context, Product> = RegistryEntry<any, Context, Product>;

export class UnknownNameError extends Error {
  constructor(
    readonly kind: string,
    readonly unknownName: string,
    readonly known: string[],
  ) {
    super(`unknown ${kind} '${unknownName}'${didYouMean(unknownName, known)} (known: ${known.join(', ')})`);
    this.name = 'UnknownNameError';
  }
}

/** A named collection of entries of one kind (layers, optimizers, datasets, ...). */
export class Registry<Context, Product> {
  private readonly entries = new Map<string, AnyEntry<Context, Product>>();

  constructor(
    /** Singular noun for messages: 'optimizer', 'layer'. */
    readonly kind: string,
    /** Plural noun used on the command line: `runner list optimizers`. */
    readonly plural: string,
  ) {}

  register<Params>(entry: RegistryEntry<Params, Context, Product>): this {
    if (this.entries.has(entry.name)) {
      throw new Error(`${this.kind} '${entry.name}' is registered twice`);
    }
    this.entries.set(entry.name, entry);
    return this;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): AnyEntry<Context, Product> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new UnknownNameError(this.kind, name, this.names());
    return entry;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  list(): AnyEntry<Context, Product>[] {
    return [...this.entries.values()];
  }
}
