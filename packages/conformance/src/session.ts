/**
 * A session: one fresh runtime (seeded, chaos as asked, checks `warn` so every report is
 * collected instead of thrown) and one device of the adapter, a body run in process
 * context, then the standard teardown — put every fence the session handed out, close
 * every client, `fini()` the device, run until idle, `rt.shutdown()` — and the reports.
 */
import { fenceLabel, type Fence } from '@dep/dma-fence';
import { Runtime, type Report, type ReportKind } from '@dep/kernel';
import type { ConformanceAdapter, ConformanceClient, ConformanceDevice, ConformanceQueue, JobSpec } from './adapter.js';
import { CheckFailure, type CheckContext } from './check.js';

/** What a check's body gets. */
export interface Session {
  readonly rt: Runtime;
  readonly dev: ConformanceDevice;
  readonly adapter: ConformanceAdapter;
  /** Virtual ms any fence may take to signal (the adapter's recovery time plus margin). */
  readonly budgetMs: number;
  /** Open a client; the session closes it at the end unless the body did. */
  open(): Promise<ConformanceClient>;
  /** Close a client (once). */
  close(client: ConformanceClient): Promise<void>;
  /**
   * Submit through `queue` and keep the fence: the session puts it at the end. Returns
   * the fence (borrowed: do not put it).
   */
  submit(queue: ConformanceQueue, job: JobSpec): Promise<Fence>;
  /** Wait until `fence` signalled, at most {@link budgetMs}; a {@link CheckFailure} otherwise. */
  waitSignalled(fence: Fence, what: string): Promise<void>;
}

/** Options of {@link runSession}. */
export interface SessionOptions {
  /** Added to the run's seed, so the checks of one run do not share an interleaving. */
  readonly salt: number;
  readonly teardown?: 'sync' | 'async';
}

/** The outcome of {@link runSession}: the body's value and every report the runtime made. */
export interface SessionResult<T> {
  readonly value: T;
  readonly reports: readonly Report[];
}

/** `report kind: message` lines. */
export function describeReports(reports: readonly Report[]): string[] {
  return reports.map((r) => `${r.kind} in ${r.task} at ${r.time} ms: ${r.message}${r.details.length > 0 ? ` (${r.details.slice(0, 3).join('; ')})` : ''}`);
}

/** Fail when `reports` hold any of `kinds` (all kinds when omitted). */
export function expectNoReports(reports: readonly Report[], what: string, kinds?: readonly ReportKind[]): void {
  const bad = kinds === undefined ? reports : reports.filter((r) => kinds.includes(r.kind));
  if (bad.length > 0) throw new CheckFailure(`${what}: ${bad.length} report(s) — ${bad[0]!.kind}: ${bad[0]!.message}`, describeReports(bad));
}

/**
 * Run `body` in a fresh session and tear it down. A {@link CheckFailure} (or any error)
 * thrown by the body is rethrown after the teardown (which still runs), a CheckFailure
 * with the runtime's reports added to its details.
 */
export async function runSession<T>(ctx: CheckContext, options: SessionOptions, body: (s: Session) => Promise<T>): Promise<SessionResult<T>> {
  const { adapter } = ctx;
  const rt = new Runtime({ seed: ctx.seed * 1009 + options.salt, chaos: ctx.chaos, checks: 'warn', name: `conformance:${adapter.name}` });
  const teardown = options.teardown ?? adapter.features.teardown[0] ?? 'async';
  const dev = adapter.createDevice({ runtime: rt, teardown });
  const budgetMs = (adapter.recoveryMs ?? 60_000) * 2 + 1_000;
  const clients: ConformanceClient[] = [];
  const closed = new Set<ConformanceClient>();
  const fences: Fence[] = [];
  /** Labels taken at submit (a signalled fence's ops are detached: its label says less). */
  const labels = new Map<Fence, string>();
  const s: Session = {
    rt,
    dev,
    adapter,
    budgetMs,
    async open() {
      const c = await dev.open();
      clients.push(c);
      return c;
    },
    async close(c) {
      if (closed.has(c)) return;
      closed.add(c);
      await c.close();
    },
    async submit(queue, job) {
      const f = await queue.submit(job);
      fences.push(f);
      labels.set(f, `${fenceLabel(f)} of ${queue.label}`);
      return f;
    },
    async waitSignalled(fence, what) {
      if (fence.isSignaled()) return;
      const left = await fence.waitTimeout(budgetMs);
      if (left <= 0 && !fence.isSignaled()) {
        throw new CheckFailure(`${what}: fence ${labels.get(fence) ?? fenceLabel(fence)} did not signal within ${budgetMs} ms (virtual)`);
      }
    },
  };
  let failure: { error: unknown } | null = null;
  let value: T | undefined;
  await rt.run(async () => {
    try {
      value = await body(s);
    } catch (error) {
      failure = { error };
    }
    try {
      // Every fence the body saw must signal before the end, failure or not.
      for (const f of fences) if (!f.isSignaled()) await f.waitTimeout(budgetMs);
      for (const c of clients) await s.close(c);
      await dev.fini();
    } catch (error) {
      failure ??= { error };
    }
  });
  await rt.runUntilIdle();
  // dma-fences are not lifetime-tracked objects: a reference the driver never put shows as
  // a refcount above the session's own one once the device is gone (what kmemleak finds).
  const fenceLeaks: Report[] = [];
  for (const f of fences) {
    if (f.refcount > 1) {
      fenceLeaks.push({ kind: 'leak', message: `fence ${labels.get(f) ?? fenceLabel(f)} still has ${f.refcount - 1} reference(s) besides the kit's after the device was torn down`, details: ['a dma_fence_get() the driver never put (or an object holding it that was never freed)'], time: rt.now(), task: 'conformance' });
    }
  }
  await rt.run(() => {
    for (const f of fences) f.put();
    fences.length = 0;
  });
  const idle = await rt.runUntilIdle();
  const reports = [...rt.shutdown(), ...fenceLeaks];
  if (failure !== null) {
    const { error } = failure as { error: unknown };
    // What the runtime reported is often the cause (an oops in a worker, a lockdep splat).
    if (error instanceof CheckFailure && reports.length > 0) throw new CheckFailure(error.message, [...error.details, ...describeReports(reports)]);
    throw error;
  }
  if (idle.stalled.length > 0) throw new CheckFailure(`teardown stalled: ${idle.stalled.length} wait(s) still blocked`, idle.stalled.map((b) => `${b.task.toString()}: ${b.reason}`));
  return { value: value as T, reports };
}
