/**
 * Turns the output of ../shared/reference/side_by_side.sh (PyTorch's torch_reference.py lines
 * interleaved with train-native.ts's) into one table: per model and thread count, each engine's
 * ms/step (the median over rounds) and native's samples/s as a multiple of PyTorch's, computed
 * within each round (so both saw the same machine) and then the median taken.
 *
 *   ../shared/reference/side_by_side.sh 2 -- npx tsx bench/native/train-native.ts > run.log
 *   npx tsx bench/native/ratios.ts run.log [--markdown]
 *
 * Lines from torch-cpu.ts in the log (processor time per step at one thread) add a second
 * table: processor ms/step of each engine at one thread, and the ratio of those.
 */
import { readFileSync } from 'node:fs';

interface Sample {
  round: number;
  engine: string;
  model: string;
  threads: number;
  ms: number;
  /** Processor ms/step, when the line gives it. */
  cpuMs?: number;
}

function parse(text: string): { samples: Sample[]; loads: string[]; torchCpu: Map<string, number[]> } {
  const samples: Sample[] = [];
  const torchCpu = new Map<string, number[]>();
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
    const torchProcessor = /^torch-cpu (\w+) threads=1 cpu-ms\/step=([\d.]+)/.exec(line);
    if (torchProcessor !== null) {
      torchCpu.set(torchProcessor[1]!, [...(torchCpu.get(torchProcessor[1]!) ?? []), Number(torchProcessor[2])]);
      continue;
    }
    const ours = /tfjs (\w+) backend=([\w-]+) threads=(\d+) ms\/step=([\d.]+)(?: samples\/s=\S+ cpu-ms\/step=([\d.]+))?/.exec(line);
    if (ours !== null) {
      const sample: Sample = { round, engine: ours[2]!, model: ours[1]!, threads: Number(ours[3]), ms: Number(ours[4]) };
      if (ours[5] !== undefined) sample.cpuMs = Number(ours[5]);
      samples.push(sample);
      continue;
    }
    const load = /load (\S+) threads=(\d+) (.*)$/.exec(line);
    if (load !== null) loads.push(`round ${round}, before ${load[1]} at ${load[2]} thread(s): load average ${load[3]}`);
  }
  return { samples, loads, torchCpu };
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
  const { samples, loads, torchCpu } = parse(readFileSync(file, 'utf8'));
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
  let processor = '';
  if (torchCpu.size > 0) {
    const cpuHead = ['model', 'pytorch cpu-ms/step (1 thread)', ...engines.filter((e) => e !== 'pytorch').flatMap((e) => [`${e} cpu-ms/step`, `${e} / pytorch`])];
    const cpuRows = models.map((model) => {
      const torch = median(torchCpu.get(model) ?? []);
      const cells = engines
        .filter((e) => e !== 'pytorch')
        .flatMap((e) => {
          const ms = median(samples.filter((s) => s.engine === e && s.model === model && s.threads === 1 && s.cpuMs !== undefined).map((s) => s.cpuMs!));
          return [ms?.toFixed(1) ?? '-', ms !== undefined && torch !== undefined ? `${(torch / ms).toFixed(2)}x` : '-'];
        });
      return [model, torch?.toFixed(1) ?? '-', ...cells];
    });
    const cpuLines = markdown
      ? [`| ${cpuHead.join(' | ')} |`, `|${cpuHead.map(() => '---').join('|')}|`, ...cpuRows.map((r) => `| ${r.join(' | ')} |`)]
      : [cpuHead.join('\t'), ...cpuRows.map((r) => r.join('\t'))];
    processor = `\nProcessor time per step at one thread (less sensitive to the load than wall time):\n${cpuLines.join('\n')}\n`;
  }
  process.stdout.write(`${lines.join('\n')}\n${processor}\n${loads.join('\n')}\n`);
}

main();
