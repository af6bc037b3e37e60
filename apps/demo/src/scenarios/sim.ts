/**
 * What the drm_dep scenarios share: a traced mock engine (the mock hardware timeline of
 * `@dep/queue/testing`, which traces nothing itself, plus a `demo:hw_job` slice per job on
 * an engine lane) and a submit helper that unwinds like a driver's ioctl when an
 * allocation fails.
 */
import { isDepError, type Runtime } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import type { DepQueue, DepQueueOps, PushedDepJob } from '@dep/queue';
import { MockDriver, MockHw, MockJob, type MockDriverOptions } from '@dep/queue/testing';
import '../trace-events.js';

/**
 * One in-order engine: a {@link MockHw} timeline, its {@link MockDriver}, and tracing of
 * what ran on it. A job starts when it was submitted or when the job before it finished,
 * whichever is later, and ends when its hardware fence signals.
 */
export class TracedEngine {
  readonly hw: MockHw;
  readonly driver: MockDriver;
  /** The engine's trace lane (`gpu0:gfx`). */
  readonly lane: string;
  readonly ops: DepQueueOps<MockJob>;
  #busyUntil = 0;

  constructor(rt: Runtime, lane: string, driverOptions: MockDriverOptions = {}) {
    this.lane = lane;
    this.hw = new MockHw({ runtime: rt, name: lane });
    this.driver = new MockDriver(this.hw, driverOptions);
    const inner = this.driver.ops;
    const engine = this;
    this.ops = {
      ...inner,
      runJob(job: PushedDepJob<MockJob>): Fence | null {
        const f = inner.runJob(job);
        if (f !== null) engine.#trace(rt, job, f);
        return f;
      },
    };
  }

  #trace(rt: Runtime, job: PushedDepJob<MockJob>, hwFence: Fence): void {
    const submitted = rt.now();
    const queue = job.queue.name;
    const seqno = job.finishedFence().seqno;
    const hwSeqno = hwFence.seqno;
    const context = hwFence.context;
    hwFence.addCallback(() => {
      const end = rt.now();
      const start = Math.min(end, Math.max(submitted, this.#busyUntil));
      this.#busyUntil = end;
      if (rt.trace.enabled) {
        const status = hwFence.getStatusLocked();
        rt.trace.emit('demo:hw_job', { hw: this.lane, queue, seqno, context, hwSeqno, error: status < 0 ? status : 0 }, { ph: 'X', ts: start, dur: end - start, lane: this.lane });
      }
    });
  }
}

/**
 * Why the mock-engine scenarios take only `alloc` from the harness (their `faultKindsWhy`):
 * the mock hardware of `@dep/queue/testing` has no firmware, page faults or device to lose,
 * and never hangs on its own.
 */
export const MOCK_ENGINES_WHY = 'mock engines (@dep/queue/testing): no firmware to fail, no page faults, no hang injection, no device to lose';

/** A job to submit: hardware duration, credits, dependencies (references are taken here). */
export interface SubmitSpec {
  readonly duration?: number;
  readonly credits?: number;
  readonly deps?: readonly (Fence | null)[];
}

/**
 * A driver's submit path: init, dependencies, arm, push, put. Returns the finished fence
 * (a reference for the caller), or null when an allocation failed before arm (`--faults`):
 * then the job is put back and nothing was published, as an ioctl returning -ENOMEM.
 */
export function submitJob(queue: DepQueue<MockJob>, spec: SubmitSpec = {}): Fence | null {
  let job: MockJob | null = null;
  try {
    job = new MockJob(queue, {
      ...(spec.duration === undefined ? {} : { duration: spec.duration }),
      ...(spec.credits === undefined ? {} : { credits: spec.credits }),
    });
    for (const d of spec.deps ?? []) if (d !== null) job.addDependency(d.get());
    const armed = job.arm();
    const f = armed.finishedFence().get();
    armed.push();
    armed.put();
    return f;
  } catch (e) {
    if (!isDepError(e, 'ENOMEM')) throw e;
    job?.put();
    return null;
  }
}

/** `lo … hi` (ms), drawn from the runtime's seeded PRNG, rounded to 0.1 ms. */
export function jitter(rt: Runtime, lo: number, hi: number): number {
  return Math.round((lo + rt.random() * (hi - lo)) * 10) / 10;
}
