import { isAtomicContext } from './context.js';
import { DepError } from './error.js';
import type { LockClass } from './lockdep.js';
import type { Runtime } from './runtime.js';

/**
 * Allocation flags, as the kernel's `gfp_t` presets that matter for the dependency layer:
 *
 * - `GFP_KERNEL`: may sleep and may recurse into direct reclaim, including filesystem and IO
 *   reclaim. Process/worker context only.
 * - `GFP_NOFS` / `GFP_NOIO`: may sleep and enter direct reclaim, minus fs (resp. fs and IO)
 *   writeback. Still forbidden wherever reclaim may wait on us (a fence-signalling section,
 *   a `WQ_MEM_RECLAIM` worker: mmu notifiers and shrinkers wait on fences from any of them).
 * - `GFP_NOWAIT`: never sleeps, no direct reclaim; fails rather than wait.
 * - `GFP_ATOMIC`: never sleeps, may dip into reserves. Legal in atomic context and in
 *   signalling sections; may fail.
 */
export type Gfp = 'GFP_KERNEL' | 'GFP_NOWAIT' | 'GFP_ATOMIC' | 'GFP_NOFS' | 'GFP_NOIO';

export const GFP_KERNEL = 'GFP_KERNEL' as const;
export const GFP_NOWAIT = 'GFP_NOWAIT' as const;
export const GFP_ATOMIC = 'GFP_ATOMIC' as const;
export const GFP_NOFS = 'GFP_NOFS' as const;
export const GFP_NOIO = 'GFP_NOIO' as const;

/** `gfpflags_allow_blocking()`: true for the flags that may sleep and enter direct reclaim. */
export function gfpAllowsBlocking(gfp: Gfp): boolean {
  return gfp === 'GFP_KERNEL' || gfp === 'GFP_NOFS' || gfp === 'GFP_NOIO';
}

function isGfp(gfp: unknown): gfp is Gfp {
  return gfp === 'GFP_KERNEL' || gfp === 'GFP_NOWAIT' || gfp === 'GFP_ATOMIC' || gfp === 'GFP_NOFS' || gfp === 'GFP_NOIO';
}

/** Name of the reclaim pseudo-lock class (`__fs_reclaim_map`). */
export const FS_RECLAIM_MAP = 'fs_reclaim';

const FS_RECLAIM = Symbol('fs_reclaim');

/** @internal The runtime's `fs_reclaim` lockdep class and map instance. */
export function fsReclaim(rt: Runtime): { readonly cls: LockClass; readonly map: object } {
  return rt.subsystem(FS_RECLAIM, (r0) => ({ cls: r0.lockdep.classFor(FS_RECLAIM_MAP), map: { name: FS_RECLAIM_MAP } }));
}

/**
 * `fs_reclaim_acquire(GFP_KERNEL)`: enter the reclaim annotation on the current task, so
 * locks taken until {@link fsReclaimRelease} are recorded as taken under reclaim (how a
 * driver primes what its shrinker or mmu notifier takes). No-op when lockdep is disabled.
 */
export function fsReclaimAcquire(rt: Runtime): void {
  const ld = rt.lockdep;
  if (!ld.enabled) return;
  const r = fsReclaim(rt);
  ld.acquire(r.cls, r.map, { sleeping: true });
}

/** `fs_reclaim_release(GFP_KERNEL)`: leave the section {@link fsReclaimAcquire} began. */
export function fsReclaimRelease(rt: Runtime): void {
  const ld = rt.lockdep;
  if (!ld.enabled) return;
  ld.release(fsReclaim(rt).map);
}

/**
 * `fs_reclaim_acquire(); fs_reclaim_release();`: record with lockdep that the current code
 * may recurse into reclaim, i.e. the dependency held locks → `fs_reclaim`. With the boot
 * priming `… → fs_reclaim → dma_fence_map`, a lock held here and also taken inside a
 * signalling section closes a cycle. No-op when lockdep is disabled.
 */
export function touchFsReclaim(rt: Runtime): void {
  const ld = rt.lockdep;
  if (!ld.enabled) return;
  const r = fsReclaim(rt);
  try {
    ld.acquire(r.cls, r.map, { sleeping: true });
  } finally {
    ld.release(r.map);
  }
}

/**
 * @internal The checks of `rt.alloc()` / `rt.tryAlloc()` (the kernel's `might_alloc()`:
 * the fs_reclaim lockdep annotation, then `might_sleep_if(gfpflags_allow_blocking())`).
 * Called only when checks are not `off`. Validates its arguments (EINVAL), then reports:
 * a blocking allocation inside a fence-signalling section or on a reclaim worker (kind
 * `lockdep`), and in atomic context ("sleeping function called from invalid context",
 * kind `context`). When none of those applies, a blocking allocation records the
 * `fs_reclaim` dependency with lockdep ({@link touchFsReclaim}), so locks held across it
 * are checked against the signalling and reclaim orders. Changes no state except the
 * report list and the lockdep graph.
 */
export function checkAlloc(rt: Runtime, gfp: Gfp, site: string): void {
  if (!isGfp(gfp)) {
    throw new DepError('EINVAL', `alloc(${String(gfp)}, ...): unknown gfp flags; pass one of GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_NOWAIT, GFP_ATOMIC`);
  }
  if (typeof site !== 'string' || site.length === 0) {
    throw new DepError('EINVAL', `alloc(${gfp}, ${String(site)}): pass the allocation site as a non-empty string (e.g. 'drm_dep_job_init')`);
  }
  if (!gfpAllowsBlocking(gfp)) return;
  const cur = rt.current;
  let reported = false;
  if (cur.signalling > 0) {
    reported = true;
    rt.reports.report(
      'lockdep',
      `allocation with ${gfp} inside a dma-fence signalling section: may recurse into reclaim that waits on this fence`,
      [`site: ${site}`, `task: ${cur.toString()} (context ${cur.context}, signalling depth ${cur.signalling})`, 'use GFP_ATOMIC/GFP_NOWAIT here, or allocate before the fence is published (before arm)'],
    );
  }
  if (cur.memReclaim) {
    reported = true;
    rt.reports.report(
      'lockdep',
      `allocation with ${gfp} on a WQ_MEM_RECLAIM worker: may recurse into reclaim that waits on this work (fs_reclaim)`,
      [`site: ${site}`, `task: ${cur.toString()}`, 'preallocate outside the reclaim path, or use GFP_NOWAIT/GFP_ATOMIC and handle failure'],
    );
  }
  if (cur.atomic > 0 || isAtomicContext(cur.context)) rt.mightSleep(`${gfp} allocation at ${site}`);
  else if (!reported) touchFsReclaim(rt);
}
