/** What every benchmark records beside its figures: when, on what machine, by which command, at which commit. */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

/** The checkout's commit; FACTLAB_COMMIT overrides it where the copy's git history is not this one's (the GPU machine's copy). */
export function commitDescription(): string {
  if (process.env.FACTLAB_COMMIT) return process.env.FACTLAB_COMMIT;
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim() + (execSync('git status --porcelain', { encoding: 'utf8' }).trim() ? ' (with uncommitted changes)' : '');
  } catch {
    return 'unknown (not a checkout)';
  }
}

/** `loadAtStart`: the load average when the benchmark began; with the one at the end it says whether other work shared the machine. */
export function benchContext(loadAtStart: number) {
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${process.platform} ${release()}`, node: process.version, loadAverage: { start: loadAtStart, end: loadavg()[0]! } };
  const command = `node ${process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', '')).join(' ')}`;
  return { date: new Date().toISOString(), commit: commitDescription(), machine, command };
}

/**
 * Prints a benchmark's markdown entry and records it: the figures as bench/results/<name>-<date>-<suffix>.json, the
 * entry appended to bench/results/<name>.md and to docs/performance.md.
 */
export function writeBenchRecord(name: string, suffix: string, date: string, figures: unknown, md: string): void {
  console.log(md);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  // Two records of one name within a minute (a run and its variant) must not overwrite each other.
  const stem = join(root, 'bench/results', `${name}-${date.slice(0, 16).replace(':', '')}-${suffix}`);
  let file = `${stem}.json`;
  for (let n = 2; existsSync(file); n++) file = `${stem}-${n}.json`;
  writeFileSync(file, JSON.stringify(figures, null, 2) + '\n');
  appendFileSync(join(root, `bench/results/${name}.md`), md + '\n');
  appendFileSync(join(root, 'docs/performance.md'), md + '\n');
  console.error(`wrote ${file}; appended to bench/results/${name}.md and docs/performance.md`);
}
