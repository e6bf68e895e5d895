import { useEffect, useState } from 'preact/hooks';

/**
 * Pages are addressed in the URL's fragment (`#/run/mnist/20261201-…`), so the server serves one
 * index.html and a page can be linked to, reloaded and snapshotted.
 */
export type Route =
  | { page: 'runs' }
  | { page: 'run'; path: string }
  | { page: 'sweep'; path: string }
  | { page: 'compare'; paths: string[] }
  | { page: 'editor'; experiment?: string }
  | { page: 'missing'; hash: string };

export function parseRoute(hash: string): Route {
  const [rawPath, rawQuery] = hash.replace(/^#/, '').split('?', 2) as [string, string | undefined];
  const query = new URLSearchParams(rawQuery ?? '');
  const path = rawPath === '' ? '/' : rawPath;
  if (path === '/' || path === '/runs') return { page: 'runs' };
  if (path.startsWith('/run/')) return { page: 'run', path: decodeURIComponent(path.slice('/run/'.length)) };
  if (path.startsWith('/sweep/')) return { page: 'sweep', path: decodeURIComponent(path.slice('/sweep/'.length)) };
  if (path === '/compare') return { page: 'compare', paths: query.getAll('run') };
  if (path === '/editor') {
    const experiment = query.get('experiment');
    return experiment === null ? { page: 'editor' } : { page: 'editor', experiment };
  }
  return { page: 'missing', hash };
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

export const links = {
  runs: () => '#/',
  run: (path: string) => `#/run/${encodePath(path)}`,
  sweep: (path: string) => `#/sweep/${encodePath(path)}`,
  compare: (paths: string[]) => `#/compare?${paths.map((p) => `run=${encodeURIComponent(p)}`).join('&')}`,
  editor: (experiment?: string) => (experiment === undefined ? '#/editor' : `#/editor?experiment=${encodeURIComponent(experiment)}`),
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
