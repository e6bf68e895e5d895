import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFiles, hashSources, prepareWebApp, WebAppBuildError } from './web-app';
import { temporaryFolder } from './test-fixtures';

/** A stand-in for `vite build`: writes index.html and one asset into the folder it is given, and counts its calls. */
function fakeBuild(base: string, options: { fail?: boolean } = {}) {
  const script = join(base, 'build.mjs');
  writeFileSync(
    script,
    `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
const out = process.argv[2];
appendFileSync(${JSON.stringify(join(base, 'calls.txt'))}, 'build\\n');
if (${options.fail === true}) { console.error('src/main.tsx:3:1: cannot resolve "missing"'); process.exit(1); }
mkdirSync(out + '/assets', { recursive: true });
writeFileSync(out + '/index.html', '<!doctype html>');
writeFileSync(out + '/assets/app-1.js', '');
`,
  );
  return (outDir: string) => ({ command: process.execPath, args: [script, outDir] });
}

describe('the web app build cache', () => {
  it('builds once per content of the sources, and serves the cached build afterwards', async () => {
    const base = temporaryFolder('web-app');
    const app = join(base, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });
    mkdirSync(join(app, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(app, 'src', 'main.ts'), 'one');
    writeFileSync(join(app, 'node_modules', 'x', 'index.js'), 'ignored');
    const sources = { appRoot: app, inputs: [app], cacheDir: join(base, 'cache'), buildCommand: fakeBuild(base) };
    const first = await prepareWebApp(sources);
    expect(first.built).toBe(true);
    expect([...first.files.keys()].sort()).toEqual(['/assets/app-1.js', '/index.html']);
    const again = await prepareWebApp(sources);
    expect(again).toMatchObject({ built: false, dir: first.dir });
    // Installed packages do not count; a source file does.
    const hash = hashSources([app]);
    writeFileSync(join(app, 'node_modules', 'x', 'index.js'), 'changed');
    expect(hashSources([app])).toBe(hash);
    writeFileSync(join(app, 'src', 'main.ts'), 'two');
    expect(hashSources([app])).not.toBe(hash);
    const rebuilt = await prepareWebApp(sources);
    expect(rebuilt.built).toBe(true);
    expect(rebuilt.dir).not.toBe(first.dir);
    expect(readdirSync(sources.cacheDir).filter((n) => n.includes('building'))).toEqual([]);
  });

  it('reports a failed build with the build\'s own message, and caches nothing', async () => {
    const base = temporaryFolder('web-app-failed');
    const app = join(base, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'main.ts'), 'x');
    const cacheDir = join(base, 'cache');
    const failing = prepareWebApp({ appRoot: app, inputs: [app], cacheDir, buildCommand: fakeBuild(base, { fail: true }) });
    await expect(failing).rejects.toThrow(WebAppBuildError);
    await expect(failing).rejects.toThrow(/cannot resolve "missing"/);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(existsSync(join(cacheDir, hashSources([app])))).toBe(false);
  });

  it('maps every file of a build to its URL path', () => {
    const dir = temporaryFolder('app-files');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '');
    writeFileSync(join(dir, 'assets', 'a.wasm'), '');
    expect([...appFiles(dir).entries()]).toEqual([
      ['/assets/a.wasm', join(dir, 'assets', 'a.wasm')],
      ['/index.html', join(dir, 'index.html')],
    ]);
  });
});
