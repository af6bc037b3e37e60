// The hand-written fence of benchmarking.md (flags, context/seqno, first callback inline,
// more in an array, (fence, arg) callbacks) with the same inputs as @dep/dma-fence (bigint
// context/seqno, passed through) and the same clock for its signal timestamp (the
// runtime's coarseNow()): the baseline @dep/dma-fence is measured against.
import type { Runtime } from '@dep/kernel';

/** A callback of {@link ClockFence}. */
export type ClockFenceCallback = (fence: ClockFence, arg: unknown) => void;
const SIGNALED = 1;

export class ClockFence {
  flags = 0;
  readonly rt: Runtime;
  readonly context: bigint;
  readonly seqno: bigint;
  timestamp: number | undefined = undefined;
  private cb0: ClockFenceCallback | null = null;
  private arg0: unknown = undefined;
  private more: unknown[] | null = null;
  constructor(rt: Runtime, context: bigint, seqno: bigint) {
    this.rt = rt;
    this.context = context;
    this.seqno = seqno;
  }
  addCallback(fn: ClockFenceCallback, arg: unknown): boolean {
    if ((this.flags & SIGNALED) !== 0) return false;
    if (this.cb0 === null) {
      this.cb0 = fn;
      this.arg0 = arg;
    } else (this.more ??= []).push(fn, arg);
    return true;
  }
  signal(): void {
    if ((this.flags & SIGNALED) !== 0) return;
    this.flags |= SIGNALED;
    this.timestamp = this.rt.coarseNow();
    const fn = this.cb0;
    if (fn !== null) {
      const arg = this.arg0;
      this.cb0 = null;
      this.arg0 = undefined;
      fn(this, arg);
    }
    const more = this.more;
    if (more !== null) {
      this.more = null;
      for (let i = 0; i < more.length; i += 2) (more[i] as ClockFenceCallback)(this, more[i + 1]);
    }
  }
}
