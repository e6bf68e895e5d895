/** `node:os` in the page: what backend descriptions ask (the processor), answered from navigator. */
export function cpus(): { model: string }[] {
  const count = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency;
  return Array.from({ length: count }, () => ({ model: 'browser' }));
}

export function tmpdir(): string {
  return '/tmp';
}

export function homedir(): string {
  return '/home';
}

export function platform(): string {
  return 'browser';
}

export default { cpus, tmpdir, homedir, platform };
