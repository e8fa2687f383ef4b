import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr, so that stdout keeps only results. cli-progress draws only on a terminal, so logs and
 * pipes stay clean.
 */
export function progressBar(label: string): { update(done: number, total: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: `${label} [{bar}] {value}/{total} | {eta_formatted} left`, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) { bar.start(total, done); started = true; } else { bar.setTotal(total); bar.update(done); }
    },
    stop() { if (started) bar.stop(); },
  };
}
