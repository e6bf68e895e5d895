// Nx plugin: every experiment file becomes a project with cacheable train, quick and validate targets.
export { createNodes } from './src/create-nodes.js';
