import type { ExecContext } from './context.js';

/** One lock a task holds, as lockdep records it (innermost last on {@link Task.held}). */
export interface HeldLock {
  /** Lock class name, e.g. `'dma_resv'`, `'&fence->lock'`. */
  readonly className: string;
  /** The lock object itself. */
  readonly lock: object;
  /** True for a sleeping lock (mutex), false for a spinning one. */
  readonly sleeping: boolean;
  /** A read (shared/recursive-read) acquisition, as lockdep's pseudo-locks use. */
  readonly read: boolean;
}

/** Where a task is in its life. */
export type TaskState = 'new' | 'running' | 'blocked' | 'done' | 'failed';

/**
 * A thread of execution the executor knows: a spawned process-context task, a worker, or
 * one of the runtime's frames for code that runs outside any task (`external`, `irq`,
 * `timer`).
 *
 * The executor sets the current task for every event it runs and for the macrotask hop
 * after a wake-up, so lockdep knows which task holds which locks across `await`s.
 */
export class Task {
  readonly id: number;
  readonly name: string;
  readonly context: ExecContext;
  /** preempt_count: spinlocks held and `preemptDisable()` nesting. Non-zero means atomic. */
  atomic = 0;
  /** Nesting of irq-disabling spinlocks (`lockIrqsave`). */
  irqsOff = 0;
  /** Locks held, innermost last (empty when checks are `off`). */
  readonly held: HeldLock[] = [];
  /** Nesting of `beginSignalling()` sections (the fence-signalling critical section). */
  signalling = 0;
  /**
   * Runs under the reclaim annotation: a worker of a `WQ_MEM_RECLAIM` workqueue (or code
   * that reclaim may wait on). A `GFP_KERNEL` allocation here is a report.
   */
  memReclaim = false;
  state: TaskState = 'new';
  /** What the task waits for while `blocked`. */
  waitingFor: string | undefined = undefined;

  /** Made by the runtime, which numbers its tasks from 1 (so traces replay exactly). */
  constructor(id: number, name: string, context: ExecContext) {
    this.id = id;
    this.name = name;
    this.context = context;
  }

  /** `name/id`, as reports print it. */
  toString(): string {
    return `${this.name}/${this.id}`;
  }
}
