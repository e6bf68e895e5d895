/** The stack of name scopes a graph is being built under, TensorFlow style (`layer1/W`). */
export class NameScopes {
  private readonly stack: string[] = [];

  /** Runs `build` with every name it creates prefixed by `scope/`. */
  within<T>(scope: string, build: () => T): T {
    this.stack.push(scope);
    try {
      return build();
    } finally {
      this.stack.pop();
    }
  }

  /** `name` under the current scopes. */
  qualify(name: string): string {
    return [...this.stack, name].join('/');
  }
}
