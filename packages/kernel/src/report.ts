/**
 * The WARN sink: where `WARN_ON`, lockdep splats, "sleeping function called from invalid
 * context", leak and use-after-free reports, stalls and oopses go.
 *
 * Reports are collected per runtime. Under checks `strict` a report throws
 * {@link DepWarning} at the point where the kernel would print its splat (tests fail there);
 * under `warn` and `off` it is only recorded. Tests assert "this warned" with
 * {@link ReportSink.capture} or by reading {@link ReportSink.list}.
 */

/** How much the runtime checks: `strict` throws on a report, `warn` records, `off` skips bookkeeping. */
export type Checks = 'strict' | 'warn' | 'off';

/** What kind of report. */
export type ReportKind =
  | 'warn'
  | 'lockdep'
  | 'context'
  | 'leak'
  | 'use-after-free'
  | 'stall'
  | 'oops'
  | 'fence-cycle';

/** One report, as the kernel would print it. */
export interface Report {
  readonly kind: ReportKind;
  /** One line: what went wrong. */
  readonly message: string;
  /** Further lines (lock chains, cycle members, creation sites). */
  readonly details: readonly string[];
  /** Runtime time (ms) at which it was reported. */
  readonly time: number;
  /** Name of the task or context that was running. */
  readonly task: string;
}

const DEP_WARNING = Symbol.for('@dep/warning');

/** Thrown under checks `strict` when something is reported. Carries the report. */
export class DepWarning extends Error {
  readonly report: Report;
  constructor(report: Report) {
    super(`${report.kind}: ${report.message}${report.details.length > 0 ? `\n  ${report.details.join('\n  ')}` : ''}`);
    this.name = 'DepWarning';
    this.report = report;
    Object.defineProperty(this, DEP_WARNING, { value: true });
  }
}

/** True if `e` is a {@link DepWarning} from any copy of this package. */
export function isDepWarning(e: unknown): e is DepWarning {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[DEP_WARNING] === true;
}

/** Where a report comes from: the sink asks for time and the running task's name. */
export interface ReportOrigin {
  now(): number;
  currentName(): string;
}

/** A report listener; called for every report, before a strict-mode throw. */
export type ReportListener = (report: Report) => void;

/** The per-runtime collection of reports. */
export class ReportSink {
  readonly #reports: Report[] = [];
  readonly #once = new Set<string>();
  readonly #listeners = new Set<ReportListener>();
  #capturing = 0;
  #throwOnReport: boolean;
  readonly #origin: ReportOrigin;

  constructor(origin: ReportOrigin, throwOnReport: boolean) {
    this.#origin = origin;
    this.#throwOnReport = throwOnReport;
  }

  /** Every report so far, oldest first. */
  get list(): readonly Report[] {
    return this.#reports;
  }

  /** Number of reports, or of reports of one kind. */
  count(kind?: ReportKind): number {
    if (kind === undefined) return this.#reports.length;
    let n = 0;
    for (const r of this.#reports) if (r.kind === kind) n++;
    return n;
  }

  /**
   * Record a report. Under checks `strict` (and outside {@link capture}) this throws
   * {@link DepWarning} after recording. Callable from any context.
   */
  report(kind: ReportKind, message: string, details: readonly string[] = []): Report {
    const report: Report = { kind, message, details, time: this.#origin.now(), task: this.#origin.currentName() };
    this.#reports.push(report);
    for (const l of this.#listeners) l(report);
    if (this.#throwOnReport && this.#capturing === 0) throw new DepWarning(report);
    return report;
  }

  /** `WARN_ON(cond)`: reports `message` when `cond` is true; returns `cond`. */
  warnOn(cond: boolean, message: string, details?: readonly string[]): boolean {
    if (cond) this.report('warn', message, details);
    return cond;
  }

  /** `WARN_ON_ONCE`: like {@link warnOn}, but reports at most once per `key` (default: the message). */
  warnOnce(cond: boolean, message: string, key: string = message): boolean {
    if (!cond) return false;
    if (this.#once.has(key)) return true;
    this.#once.add(key);
    this.report('warn', message);
    return true;
  }

  /** Subscribe to reports; returns the unsubscribe function. */
  subscribe(listener: ReportListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Run `fn` and return what it reported, without throwing even under `strict`: the way a
   * test asserts "this warned". The reports stay in {@link list} too.
   */
  capture<T>(fn: () => T): { result: T; reports: Report[] } {
    const start = this.#reports.length;
    this.#capturing++;
    try {
      const result = fn();
      return { result, reports: this.#reports.slice(start) };
    } finally {
      this.#capturing--;
    }
  }

  /** {@link capture} for async work: reports made until the promise settles are captured. */
  async captureAsync<T>(fn: () => Promise<T>): Promise<{ result: T; reports: Report[] }> {
    const start = this.#reports.length;
    this.#capturing++;
    try {
      const result = await fn();
      return { result, reports: this.#reports.slice(start) };
    } finally {
      this.#capturing--;
    }
  }

  /** Forget every report (and every warn-once key). */
  clear(): void {
    this.#reports.length = 0;
    this.#once.clear();
  }
}
