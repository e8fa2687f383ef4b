/** What every benchmark records beside its figures: when, on what machine, by which command, at which commit. */
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
