/** `node:path` in the page: POSIX paths (pathe implements Node's API without Node). */
export * from 'pathe';
export { default } from 'pathe';
