/**
 * The "speed of light" fence that @dep/dma-fence is measured against (benchmarking.md):
 * flags, context/seqno, the first callback stored inline, further ones in an array,
 * callbacks called as `(fence, arg)` so callers need no closure.
 */
export type MinimalFenceCallback = (fence: MinimalFence, arg: unknown) => void;

const SIGNALED = 1;

export class MinimalFence {
  flags = 0;
  readonly context: number;
  readonly seqno: number;
  private cb0: MinimalFenceCallback | null = null;
  private arg0: unknown = undefined;
  private more: unknown[] | null = null;

  constructor(context: number, seqno: number) {
    this.context = context;
    this.seqno = seqno;
  }

  /** Returns false (the kernel's -ENOENT) when already signalled. */
  addCallback(fn: MinimalFenceCallback, arg: unknown): boolean {
    if ((this.flags & SIGNALED) !== 0) return false;
    if (this.cb0 === null) {
      this.cb0 = fn;
      this.arg0 = arg;
    } else {
      (this.more ??= []).push(fn, arg);
    }
    return true;
  }

  /** Returns false when already signalled. */
  signal(): boolean {
    if ((this.flags & SIGNALED) !== 0) return false;
    this.flags |= SIGNALED;
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
      for (let i = 0; i < more.length; i += 2) (more[i] as MinimalFenceCallback)(this, more[i + 1]);
    }
    return true;
  }
}
