export { createInitializerRegistry, fans } from './initializers';
export type { Initializer, InitializerContext, InitializerRegistry } from './initializers';
