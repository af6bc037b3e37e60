/**
 * The PREEMPT usage of the preempt-fence RFC v1 (rfc-designs B.1): what is per runtime,
 * and the ordered singleton.
 */
import { DmaFenceArray, DmaFenceChain, contextAlloc, type DmaFence, type Fence } from '@dep/dma-fence';
import { DepError, type Runtime } from '@dep/kernel';
import { resvState } from './runtime-state.js';

/**
 * Make `DmaResvUsage.PREEMPT` available on every {@link DmaResv} of `rt` created from now
 * on (the per-runtime form of the option; `new DmaResv({ preempt })` decides per resv and
 * wins). `enabled = false` turns the default off again. Resvs already made keep their
 * setting.
 */
export function enablePreemptUsage(rt: Runtime, enabled = true): void {
  if (typeof enabled !== 'boolean') {
    throw new DepError('EINVAL', `enablePreemptUsage(rt, ${String(enabled)}): pass true or false`);
  }
  resvState(rt).preemptDefault = enabled;
}

/** Whether resvs made on `rt` from now on allow PREEMPT by default. */
export function preemptUsageEnabled(rt: Runtime): boolean {
  return resvState(rt).preemptDefault;
}

/** One fence standing for `fences` (owned references): itself, or an array of them. */
function combine(rt: Runtime, fences: readonly DmaFence[]): Fence {
  if (fences.length === 1) return fences[0]!;
  return DmaFenceArray.create(fences, contextAlloc(1, rt), 1n);
}

function putAll(fences: readonly Fence[]): void {
  for (const f of fences) f.put();
}

/**
 * `dma_resv_get_singleton(PREEMPT)` when both kinds are present: one fence that keeps the
 * PREEMPT ordering for whoever waits on it. A two-point `DmaFenceChain`: the older
 * point (seqno 1) holds the PREEMPT fences, the head (seqno 2) the others (each part a
 * single fence or a `DmaFenceArray`). Enabling signalling on a chain enables its
 * head's fence first and moves to the older point only once that one has signalled — so
 * the preempt fences are enabled, all at once, only after every other fence signalled.
 * Takes ownership of the references in `normal` and `preempt`; on failure (ENOMEM from
 * the allocation hook) every one of them is put and the error rethrown.
 * @internal
 */
export function preemptOrderedSingleton(rt: Runtime, normal: readonly DmaFence[], preempt: readonly DmaFence[]): Fence {
  let normalPart: Fence;
  try {
    normalPart = combine(rt, normal);
  } catch (e) {
    putAll(normal);
    putAll(preempt);
    throw e;
  }
  let preemptPart: Fence;
  try {
    preemptPart = combine(rt, preempt);
  } catch (e) {
    normalPart.put();
    putAll(preempt);
    throw e;
  }
  let older: Fence;
  try {
    older = DmaFenceChain.create(null, preemptPart, 1n, { reason: 'dma_resv singleton: the PREEMPT fences' });
  } catch (e) {
    normalPart.put();
    preemptPart.put();
    throw e;
  }
  try {
    return DmaFenceChain.create(older, normalPart, 2n, { reason: 'dma_resv singleton: the other fences, first' });
  } catch (e) {
    normalPart.put();
    older.put();
    throw e;
  }
}
