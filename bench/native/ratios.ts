/**
 * Turns the output of ../shared/reference/side_by_side.sh (PyTorch's torch_reference.py lines
 * interleaved with train-native.ts's) into one table: per model and thread count, each engine's
 * ms/step (the median over rounds) and native's samples/s as a multiple of PyTorch's, computed
 * within each round (so both saw the same machine) and then the median taken.
 *
 *   ../shared/reference/side_by_side.sh 2 -- npx tsx bench/native/train-native.ts > run.log
 *   npx tsx bench/native/ratios.ts run.log [--markdown]
 */
import { readFileSync } from 'node:fs';

interface Sample {
  round: number;
  engine: string;
  model: string;
  threads: number;
  ms: number;
}

function parse(text: string): { samples: Sample[]; loads: string[] } {
  const samples: Sample[] = [];
  const loads: string[] = [];
  let round = 0;
  for (const line of text.split('\n')) {
    const roundMatch = /^== round (\d+)/.exec(line);
    if (roundMatch !== null) {
      round = Number(roundMatch[1]);
      continue;
    }
    const torch = /^torch (\w+) threads=(\d+) ms\/step=([\d.]+)/.exec(line);
    if (torch !== null) {
      samples.push({ round, engine: 'pytorch', model: torch[1]!, threads: Number(torch[2]), ms: Number(torch[3]) });
      continue;
    }
    const ours = /tfjs (\w+) backend=([\w-]+) threads=(\d+) ms\/step=([\d.]+)/.exec(line);
    if (ours !== null) {
      samples.push({ round, engine: ours[2]!, model: ours[1]!, threads: Number(ours[3]), ms: Number(ours[4]) });
      continue;
    }
    const load = /load (\S+) threads=(\d+) (.*)$/.exec(line);
    if (load !== null) loads.push(`round ${round}, before ${load[1]} at ${load[2]} thread(s): load average ${load[3]}`);
  }
  return { samples, loads };
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (file === undefined) throw new Error('usage: ratios.ts LOG [--markdown]');
  const { samples, loads } = parse(readFileSync(file, 'utf8'));
  const engines = [...new Set(samples.map((s) => s.engine))].sort((a, b) => (a === 'pytorch' ? -1 : b === 'pytorch' ? 1 : a.localeCompare(b)));
  const models = [...new Set(samples.map((s) => s.model))];
  const threadCounts = [...new Set(samples.map((s) => s.threads))].sort();
  const rounds = [...new Set(samples.map((s) => s.round))];
  const head = ['model', 'threads', ...engines.map((e) => `${e} ms/step`), ...engines.filter((e) => e !== 'pytorch').map((e) => `${e} / pytorch (samples/s)`)];
  const rows: string[][] = [];
  for (const model of models) {
    for (const threads of threadCounts) {
      const of = (engine: string, round?: number) =>
        samples.filter((s) => s.engine === engine && s.model === model && s.threads === threads && (round === undefined || s.round === round)).map((s) => s.ms);
      const msCells = engines.map((e) => {
        const m = median(of(e));
        const all = of(e);
        return m === undefined ? '-' : all.length > 1 ? `${m.toFixed(1)} (${Math.min(...all).toFixed(1)}-${Math.max(...all).toFixed(1)})` : m.toFixed(1);
      });
      const ratioCells = engines
        .filter((e) => e !== 'pytorch')
        .map((e) => {
          // samples/s ratio = pytorch ms / engine ms, per round.
          const perRound = rounds
            .map((r) => {
              const t = median(of('pytorch', r));
              const x = median(of(e, r));
              return t !== undefined && x !== undefined ? t / x : undefined;
            })
            .filter((v): v is number => v !== undefined);
          const m = median(perRound);
          return m === undefined ? '-' : `${m.toFixed(2)}x${perRound.length > 1 ? ` (${perRound.map((v) => v.toFixed(2)).join(', ')})` : ''}`;
        });
      if (msCells.every((c) => c === '-')) continue;
      rows.push([model, String(threads), ...msCells, ...ratioCells]);
    }
  }
  const markdown = args.includes('--markdown');
  const lines = markdown
    ? [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)]
    : [head.join('\t'), ...rows.map((r) => r.join('\t'))];
  process.stdout.write(`${lines.join('\n')}\n\n${loads.join('\n')}\n`);
}

main();
