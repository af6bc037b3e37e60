import { WwClass, type Runtime, type Task } from '@dep/kernel';

/** Lockdep class of every reservation lock (`reservation_ww_class_mutex` in the kernel). */
export const RESV_LOCK_CLASS = 'dma_resv';

/**
 * The legal order `dma_resv_lockdep()` primes at boot, outermost first: mmap_lock, the
 * acquire context, the resv lock, reclaim, the fence-signalling map. So waiting on a fence
 * under a resv lock is legal, and taking a resv lock (or a blocking allocation) inside a
 * fence-signalling section closes a cycle. The kernel also has `i_mmap` and the
 * mmu-notifier map between `fs_reclaim` and `dma_fence_map`; nothing models them here.
 */
export const RESV_LOCKDEP_ORDER: readonly string[] = Object.freeze(['mmap_lock', `${RESV_LOCK_CLASS}_acquire`, RESV_LOCK_CLASS, 'fs_reclaim', 'dma_fence_map']);

/** One fence-signalling section that `addFence` opened on a task (see README, "lockdep"). */
interface Section {
  depth: number;
  readonly cookie: boolean;
}

/** @internal Per-runtime state of this package. */
export interface ResvRuntimeState {
  /** `reservation_ww_class`. */
  readonly wwClass: WwClass;
  /** Default of `DmaResvOptions.preempt` for resvs made from now on. */
  preemptDefault: boolean;
  /** Resvs made so far (for default names). */
  count: number;
  /** Signalling sections opened by `addFence`, per task. */
  readonly sections: Map<Task, Section>;
}

const KEY = Symbol('@dep/dma-resv');

/** @internal The runtime's state, made (and lockdep primed, once) on first use. */
export function resvState(rt: Runtime): ResvRuntimeState {
  return rt.subsystem(KEY, (r) => {
    r.lockdep.prime(RESV_LOCKDEP_ORDER);
    return { wwClass: new WwClass(RESV_LOCK_CLASS), preemptDefault: false, count: 0, sections: new Map() };
  });
}

/**
 * `reservation_ww_class`: the wait-die class of every reservation lock of `rt` (one per
 * runtime). Make an acquire context for locking several resvs with
 * `new WwAcquireCtx(rt, reservationWwClass(rt))` (`ww_acquire_init(&ctx,
 * &reservation_ww_class)`), or let {@link DrmExec} do it.
 */
export function reservationWwClass(rt: Runtime): WwClass {
  return resvState(rt).wwClass;
}

/**
 * Open (or nest into) the signalling section of the current task: the first one begins
 * `dma_fence_begin_signalling`, later ones only count. Not in atomic context (the irq frame
 * resets its own state at the end of every event) and not with lockdep off.
 * @internal
 */
export function openSection(rt: Runtime, st: ResvRuntimeState): Task | null {
  const ld = rt.lockdep;
  if (!ld.enabled || rt.inAtomic()) return null;
  const task = rt.current;
  const s = st.sections.get(task);
  if (s !== undefined) {
    s.depth++;
    return task;
  }
  const cookie = ld.beginSignalling();
  st.sections.set(task, { depth: 1, cookie });
  return task;
}

/** Close one level of the section `openSection` opened on `task`. @internal */
export function closeSection(rt: Runtime, st: ResvRuntimeState, task: Task): void {
  const s = st.sections.get(task);
  if (s === undefined) return;
  if (--s.depth > 0) return;
  st.sections.delete(task);
  rt.lockdep.endSignalling(s.cookie);
}
