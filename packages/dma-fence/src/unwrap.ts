/**
 * `dma_fence_unwrap` (drivers/dma-buf/dma-fence-unwrap.c, kernel-api.md A4): iterate the
 * leaves of a chain of arrays, deduplicate, and merge fences back into one flat array.
 */
import { DepError, GFP_KERNEL, type Runtime } from '@dep/kernel';
import { DmaFenceArray } from './array.js';
import { DmaFenceChain } from './chain.js';
import { contextAlloc } from './context.js';
import { asFence, type Fence } from './fence.js';
import { assertActive } from './inactive.js';
import { allocatePrivateStub } from './stub.js';

/**
 * `struct dma_fence_unwrap`: the cursor of {@link unwrapFirst} / {@link unwrapNext}.
 * `chain` holds a reference while iterating (null once the iteration ended).
 */
export interface FenceUnwrapCursor {
  /** The chain node being unwrapped (or the head, if it is not a chain); a reference. */
  chain: Fence | null;
  /** The array being unwrapped (or a single fence). */
  array: Fence | null;
  /** Last index returned from `array`. */
  index: number;
}

/** A fresh cursor for {@link unwrapFirst}. */
export function unwrapCursor(): FenceUnwrapCursor {
  return { chain: null, array: null, index: 0 };
}

function unwrapArray(cursor: FenceUnwrapCursor): Fence | null {
  const chain = cursor.chain;
  cursor.array = chain === null ? null : DmaFenceChain.contained(chain);
  cursor.index = 0;
  return DmaFenceArray.first(cursor.array);
}

/**
 * `dma_fence_unwrap_first(head, cursor)`: the first leaf of `head` (unwrapping one level
 * of chain and one level of array). The cursor takes a reference to `head`; it is
 * dropped when {@link unwrapNext} reaches the end. If you stop early, `put()` the
 * cursor's `chain` (or use {@link unwrapForEach}, which does). Leaves are returned
 * without references. Any context.
 */
export function unwrapFirst(head: Fence, cursor: FenceUnwrapCursor): Fence | null {
  cursor.chain = asFence(head, 'dma_fence_unwrap_first').get();
  return unwrapArray(cursor);
}

/** `dma_fence_unwrap_next(cursor)`: the next leaf, or null at the end. Walks (and garbage-collects) chains. */
export function unwrapNext(cursor: FenceUnwrapCursor): Fence | null {
  ++cursor.index;
  const tmp = DmaFenceArray.next(cursor.array, cursor.index);
  if (tmp !== null) return tmp;
  const chain = cursor.chain;
  cursor.chain = chain === null ? null : DmaFenceChain.walk(chain);
  return unwrapArray(cursor);
}

/**
 * `dma_fence_unwrap_for_each(fence, &cursor, head)`: every leaf of `head` — the fences
 * of a chain's nodes (walking back from `head`, skipping garbage-collected signalled
 * points) and of the arrays they contain. A plain fence yields itself. Leaves carry no
 * reference; breaking out of the loop releases the iterator's reference to the chain.
 */
export function* unwrapForEach(head: Fence): Generator<Fence, void, undefined> {
  const cursor = unwrapCursor();
  try {
    for (let f = unwrapFirst(head, cursor); f !== null; f = unwrapNext(cursor)) yield f;
  } finally {
    const chain = cursor.chain;
    cursor.chain = null;
    chain?.put();
  }
}

function fenceCmp(a: Fence, b: Fence): number {
  if (a.context < b.context) return -1;
  if (a.context > b.context) return 1;
  if (b.isLater(a)) return 1;
  if (a.isLater(b)) return -1;
  return 0;
}

/**
 * `dma_fence_dedup_array(fences, num_fences)`: sort `fences` in place by context
 * (ascending), the later fence first within a context (`isLater`), keep only the latest
 * per context and `put()` the others (the array owns one reference per entry). The array
 * is truncated to the new count, which is returned; an empty array gives 0 (the proposed
 * `test_dedup_empty`: the kernel's loop returns 1 there). Any context.
 */
export function dedupArray(fences: Fence[]): number {
  if (!Array.isArray(fences)) throw new DepError('EINVAL', 'dma_fence_dedup_array: pass an array of fences');
  for (let i = 0; i < fences.length; i++) asFence(fences[i], `dma_fence_dedup_array (entry ${i})`);
  const n = fences.length;
  if (n === 0) return 0;
  fences.sort(fenceCmp);
  let j = 0;
  for (let i = 1; i < n; i++) {
    if (fences[i]!.context === fences[j]!.context) fences[i]!.put();
    else fences[++j] = fences[i]!;
  }
  fences.length = j + 1;
  return j + 1;
}

/**
 * `dma_fence_unwrap_merge(f1, f2, …)`: one fence for all of `fences`. Every input is
 * unwrapped to its leaves; signalled leaves are dropped (remembering the latest timestamp
 * among them). Then:
 * - no leaf left: a new private signalled stub carrying that latest timestamp;
 * - one: that leaf (a new reference);
 * - more: the leaves deduplicated ({@link dedupArray}: sorted by context, the latest per
 *   context) in a new flat `DmaFenceArray` with a fresh context and seqno 1, signalling
 *   when all do.
 *
 * The inputs keep their references; the caller owns the result. Allocates (GFP_KERNEL,
 * sites `dma_fence_unwrap_merge`, `dma_fence_array_alloc`,
 * `dma_fence_allocate_private_stub`): under fault injection it throws
 * `DepError('ENOMEM')` where the kernel returns NULL, with every reference as it was and
 * no context consumed. EINVAL for no input, a non-fence, an INACTIVE input (a merge
 * builds a container), or inputs of several runtimes. May sleep.
 */
export function unwrapMerge(...fences: Fence[]): Fence {
  const who = 'dma_fence_unwrap_merge';
  if (fences.length === 0) throw new DepError('EINVAL', `${who}: pass at least one fence to merge`);
  const rt = asFence(fences[0], who).runtime;
  for (let i = 0; i < fences.length; i++) {
    const f = asFence(fences[i], who);
    if (f.runtime !== rt) throw new DepError('EINVAL', `${who}: input ${i} (${f.context}:${f.seqno}) belongs to another runtime; merge fences of one runtime`);
    assertActive(f, who);
  }

  let count = 0;
  let unsignaled: Fence | null = null;
  let timestamp = 0;
  for (const head of fences) {
    for (const tmp of unwrapForEach(head)) {
      if (!tmp.isSignaled()) {
        unsignaled = tmp;
        ++count;
      } else {
        const t = tmp.timestamp();
        if (t > timestamp) timestamp = t;
      }
    }
  }

  // No pending fence: a private signalled fence with the latest timestamp. One: return it
  // directly, the common case on many workloads.
  if (count === 0) return privateStub(timestamp, rt);
  if (count === 1) return unsignaled!.get();

  rt.alloc(GFP_KERNEL, who); // kmalloc_array(count, …)
  const array: Fence[] = [];
  for (const head of fences) {
    for (const tmp of unwrapForEach(head)) {
      if (!tmp.isSignaled()) {
        array.push(tmp.get());
      } else {
        const t = tmp.timestamp();
        if (t > timestamp) timestamp = t;
      }
    }
  }
  if (array.length === 0) return privateStub(timestamp, rt);
  if (array.length === 1) return array[0]!;

  count = dedupArray(array);
  if (count === 1) return array[0]!;
  let result: DmaFenceArray;
  try {
    result = DmaFenceArray.alloc(count, rt);
  } catch (e) {
    for (const f of array) f.put();
    throw e;
  }
  return result.initArray(array, contextAlloc(1, rt), 1n);
}

/** `dma_fence_allocate_private_stub(timestamp)` behind the allocation hook. */
function privateStub(timestamp: number, rt: Runtime): Fence {
  rt.alloc(GFP_KERNEL, 'dma_fence_allocate_private_stub');
  return allocatePrivateStub(timestamp, rt);
}
