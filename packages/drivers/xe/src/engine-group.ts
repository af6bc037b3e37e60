/**
 * `struct xe_hw_engine_group` (xe_hw_engine_group.c): engines that cannot make progress
 * while one of them is stuck on a page fault — {render, compute}, {copy}, {video decode,
 * video enhance} — run either faulting long-running jobs or dma-fence jobs, never both. A
 * dma-fence exec switches the group to DMA_FENCE mode by suspending every faulting LR
 * queue (-EAGAIN when one is busy and the exec has in-syncs: wait for them, retry); an LR
 * exec kicks the resume worker, which switches back to LR once every dma-fence queue's
 * last fence signalled and resumes the faulting queues.
 */
import type { Fence } from '@dep/dma-fence';
import type { EngineClass } from '@dep/hw-sim';
import { DepError, INTERRUPTED, TIMED_OUT, Work, type Runtime, type Waker } from '@dep/kernel';
import type { XeExecQueue } from './exec-queue.js';

/** `enum xe_hw_engine_group_execution_mode`. */
export type XeExecMode = 'lr' | 'dma-fence';

/** The group an engine class belongs to. */
export function engineGroupOf(cls: EngineClass): 'rcs_ccs' | 'bcs' | 'vcs_vecs' {
  if (cls === 'copy') return 'bcs';
  if (cls === 'video') return 'vcs_vecs';
  return 'rcs_ccs';
}

/**
 * A reader/writer semaphore on the runtime's sleep/wake (the kernel package has no
 * `rw_semaphore`; lockdep does not see this one). Writers are preferred once waiting.
 */
class RwSem {
  readonly #rt: Runtime;
  readonly #name: string;
  #readers = 0;
  #writer = false;
  readonly #waiters: Array<{ readonly write: boolean; readonly w: Waker<true> }> = [];

  constructor(rt: Runtime, name: string) {
    this.#rt = rt;
    this.#name = name;
  }

  async downRead(): Promise<void> {
    if (!this.#writer && !this.#waiters.some((x) => x.write)) {
      this.#readers++;
      return;
    }
    await this.#sleep(false);
  }

  async downWrite(): Promise<void> {
    if (!this.#writer && this.#readers === 0) {
      this.#writer = true;
      return;
    }
    await this.#sleep(true);
  }

  upRead(): void {
    this.#readers--;
    this.#wake();
  }

  upWrite(): void {
    this.#writer = false;
    this.#wake();
  }

  /** `downgrade_write`: keep it as a reader; let other readers in. */
  downgradeWrite(): void {
    this.#writer = false;
    this.#readers++;
    this.#wake();
  }

  async #sleep(write: boolean): Promise<void> {
    const r = await this.#rt.sleepOn<true>(`${this.#name} (${write ? 'write' : 'read'})`, (w) => {
      this.#waiters.push({ write, w });
    });
    if (r === TIMED_OUT || r === INTERRUPTED) throw new DepError('EINTR', `${this.#name}: interrupted`);
  }

  #wake(): void {
    while (this.#waiters.length > 0 && !this.#writer) {
      const head = this.#waiters[0]!;
      if (head.write) {
        if (this.#readers > 0) return;
        this.#waiters.shift();
        this.#writer = true;
        head.w.wake(true);
        return;
      }
      this.#waiters.shift();
      this.#readers++;
      head.w.wake(true);
    }
  }
}

/** One hw engine group. */
export class XeEngineGroup {
  readonly name: string;
  readonly rt: Runtime;
  /** Exec queues of fault-mode and dma-fence VMs on the group's engines (preempt-fence LR queues are not members). */
  readonly queues = new Set<XeExecQueue>();
  /** Mode switches done. */
  switches = 0;
  #mode: XeExecMode = 'dma-fence';
  readonly #sem: RwSem;
  readonly #resumeWork: Work;
  readonly #queueResume: (work: Work) => void;

  constructor(rt: Runtime, name: string, queueResume: (work: Work) => void) {
    this.rt = rt;
    this.name = name;
    this.#sem = new RwSem(rt, `${name}.mode_sem`);
    this.#resumeWork = new Work(() => this.#resumeFn(), `xe_hw_engine_group_resume(${name})`);
    this.#queueResume = queueResume;
  }

  /** The current execution mode. */
  get mode(): XeExecMode {
    return this.#mode;
  }

  /** `xe_hw_engine_group_add_exec_queue`: a faulting queue joining a DMA_FENCE group starts suspended, and the resume worker is kicked. */
  async add(q: XeExecQueue): Promise<void> {
    await this.#sem.downWrite();
    try {
      if (q.faulting && this.#mode === 'dma-fence') {
        q._suspend();
        const err = await q._suspendWait();
        if (err !== 0) throw DepError.fromErrno(err, `xe_hw_engine_group_add_exec_queue(${this.name})`);
        this.resumeFaultingLrJobs();
      }
      this.queues.add(q);
    } finally {
      this.#sem.upWrite();
    }
  }

  /** `xe_hw_engine_group_del_exec_queue`. */
  async del(q: XeExecQueue): Promise<void> {
    await this.#sem.downWrite();
    this.queues.delete(q);
    this.#sem.upWrite();
  }

  /** `xe_hw_engine_group_resume_faulting_lr_jobs`: queue the resume worker. */
  resumeFaultingLrJobs(): void {
    this.#queueResume(this.#resumeWork);
  }

  /**
   * `xe_hw_engine_group_get_mode`: hold the group (read) in `mode`, switching it first if
   * needed (write). Returns the previous mode. `inFences`: the exec's in-syncs — a busy
   * faulting queue with in-fences pending makes the switch -EAGAIN: wait for them, retry.
   * Pair with {@link XeEngineGroup.put}.
   */
  async getMode(mode: XeExecMode, inFences: readonly Fence[] = []): Promise<XeExecMode> {
    await this.#sem.downRead();
    const previous = this.#mode;
    if (mode === this.#mode) return previous;
    this.#sem.upRead();
    let hasDeps = inFences.length > 0;
    for (;;) {
      await this.#sem.downWrite();
      if (mode !== this.#mode) {
        const err = await this.#switch(hasDeps);
        if (err !== 0) {
          this.#sem.upWrite();
          if (err !== -11) throw DepError.fromErrno(err, `xe_hw_engine_group_get_mode(${this.name})`);
          for (const f of inFences) await f.wait();
          hasDeps = false;
          continue;
        }
      }
      this.#sem.downgradeWrite();
      return previous;
    }
  }

  /** `xe_hw_engine_group_put`. */
  put(): void {
    this.#sem.upRead();
  }

  async #switch(hasDeps: boolean): Promise<number> {
    let err: number;
    let next: XeExecMode;
    if (this.#mode === 'lr') {
      next = 'dma-fence';
      err = await this.#suspendFaulting(hasDeps);
    } else {
      next = 'lr';
      err = await this.#waitDmaFenceJobs();
    }
    if (err !== 0) return err;
    this.#mode = next;
    this.switches++;
    return 0;
  }

  async #suspendFaulting(hasDeps: boolean): Promise<number> {
    let needResume = false;
    const faulting = [...this.queues].filter((q) => q.faulting);
    for (const q of faulting) {
      const idle = q.pendingHwFences === 0;
      if (!idle && hasDeps) return -11;
      needResume ||= !idle;
      q._suspend();
    }
    for (const q of faulting) {
      const err = await q._suspendWait();
      if (err !== 0) return err;
    }
    if (needResume) this.resumeFaultingLrJobs();
    return 0;
  }

  async #waitDmaFenceJobs(): Promise<number> {
    for (const q of this.queues) {
      if (q.lr) continue;
      const f = q.lastFence;
      if (f === null) continue;
      f.get();
      try {
        await f.wait();
      } finally {
        f.put();
      }
    }
    return 0;
  }

  async #resumeFn(): Promise<void> {
    let previous: XeExecMode;
    try {
      previous = await this.getMode('lr');
    } catch {
      return;
    }
    try {
      if (previous === 'lr') return;
      for (const q of this.queues) if (q.faulting) q._resumeFaulting();
    } finally {
      this.put();
    }
  }
}
