import cliProgress from 'cli-progress';
import { FactlabError } from '../tensor/errors.js';

/** Results go to stdout (text or --json); progress and errors go to stderr. */
export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/**
 * One line for a user's mistake; an unexpected failure also gets one line, and its stack trace only with
 * FACTLAB_DEBUG=1.
 */
export function reportError(e: unknown): number {
  if (e instanceof FactlabError) {
    process.stderr.write(`factlab: ${e.message}\n`);
    return 1;
  }
  const fsError = fileSystemError(e);
  if (fsError) {
    process.stderr.write(`factlab: ${fsError}\n`);
    return 1;
  }
  const err = e as Error;
  process.stderr.write(`factlab: internal error: ${err?.message ?? String(e)}${process.env.FACTLAB_DEBUG ? `\n${err?.stack}` : ' (set FACTLAB_DEBUG=1 for details)'}\n`);
  return 2;
}

/**
 * A file the user named that cannot be read or written (an --out under a file, a read-only folder, a full disk) is
 * the user's to fix, wherever in a verb it surfaces: one line naming the path and what the system said.
 */
export function fileSystemError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | null;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string' || typeof err.path !== 'string' || !err.syscall) return null;
  const said = err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return `${err.path}: ${said} (${err.syscall})`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A progress bar on stderr (drawn only when stderr is a terminal, so logs and pipes stay clean). */
export function progressBar(label: string) {
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: `${label} [{bar}] {value}/{total} | {eta_formatted} left`, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) { bar.start(total, done); started = true; } else { bar.setTotal(total); bar.update(done); }
    },
    stop() { if (started) bar.stop(); started = false; },
  };
}
