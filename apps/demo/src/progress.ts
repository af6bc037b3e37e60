/**
 * A progress bar for runs that take longer than a moment: drawn on a terminal only (never
 * into a pipe or a file), and only once the run has lasted `delayMs`, so quick runs print
 * nothing extra.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `done` of `total` units finished. */
  update(done: number, total: number): void;
  /** Remove the bar (if drawn). Idempotent. */
  stop(): void;
}

export interface ProgressOptions {
  /** Where to draw (stderr by default, so stdout stays clean). */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw at all: false for non-TTY output. */
  readonly enabled: boolean;
  /** Show the bar only after this long (ms). Default 300. */
  readonly delayMs?: number;
  /** Colour the bar. */
  readonly color?: boolean;
  /** What is counted, e.g. `seeds` or `jobs`. */
  readonly unit?: string;
  /** A clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

const NONE: Progress = { update: () => undefined, stop: () => undefined };

/** A bar labelled `label` (`explore kernel`, `bypass-vs-worker`). */
export function createProgress(label: string, options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  if (!options.enabled || stream.isTTY !== true) return NONE;
  const now = options.now ?? Date.now;
  const t0 = now();
  const delay = options.delayMs ?? 300;
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;
  return {
    update(done, total) {
      if (stopped) return;
      if (bar === null) {
        if (now() - t0 < delay || done >= total) return;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} ${options.color === true ? '\x1b[36m{bar}\x1b[0m' : '{bar}'} {percentage}% | {value}/{total} ${options.unit ?? ''} | {duration_formatted}`,
            barCompleteChar: '█',
            barIncompleteChar: '░',
            hideCursor: true,
            clearOnComplete: true,
            stopOnComplete: false,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
        return;
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}
