import { DepError } from '@dep/kernel';

/**
 * `enum dma_resv_usage`: how the operation a fence stands for uses the resource, ordered
 * `KERNEL < WRITE < READ < BOOKKEEP < PREEMPT`. A query with usage `U` is a **ceiling**: it
 * returns every fence whose usage is `≤ U` (asking for READ yields KERNEL, WRITE and READ
 * fences).
 *
 * - `KERNEL`: memory management (moves, clears); always waited for.
 * - `WRITE` / `READ`: implicit synchronization.
 * - `BOOKKEEP`: not part of implicit sync (page-table updates, TLB flushes, explicitly
 *   synced submissions; preempt fences too where PREEMPT is not enabled).
 * - `PREEMPT`: the preempt-fence usage of the RFC v1 (rfc-designs B.1), kernel-owned, for
 *   preempt fences only, and only on a reservation object that enables it. Such a fence
 *   gets signalling enabled only after every fence of the other usages has signalled;
 *   iterators hand PREEMPT fences out last.
 */
export const DmaResvUsage = {
  KERNEL: 0,
  WRITE: 1,
  READ: 2,
  BOOKKEEP: 3,
  PREEMPT: 4,
} as const;

/** One of the {@link (DmaResvUsage:variable)} values (0…4). */
export type DmaResvUsage = (typeof DmaResvUsage)[keyof typeof DmaResvUsage];

/** A usage's name as `dma_resv_describe()` prints it. */
export type DmaResvUsageName = 'kernel' | 'write' | 'read' | 'bookkeep' | 'preempt';

const NAMES: readonly DmaResvUsageName[] = ['kernel', 'write', 'read', 'bookkeep', 'preempt'];

/** The usage's name as `dma_resv_describe()` prints it: `kernel`, `write`, `read`, `bookkeep`, `preempt`. */
export function usageName(usage: DmaResvUsage): DmaResvUsageName {
  const name = NAMES[usage];
  if (name === undefined) throw badUsage(usage, 'usageName');
  return name;
}

/**
 * `dma_resv_usage_rw(write)`: the usage an implicitly synced access must **wait for**.
 * A writer gets READ (it waits for readers and writers), a reader gets WRITE (it waits for
 * writers only). "This looks confusing at first sight, but is indeed correct."
 */
export function usageRw(write: boolean): DmaResvUsage {
  if (typeof write !== 'boolean') {
    throw new DepError('EINVAL', `dma_resv_usage_rw(${String(write)}): pass true for a write access, false for a read access`);
  }
  return write ? DmaResvUsage.READ : DmaResvUsage.WRITE;
}

/** True for a valid usage value. */
export function isUsage(usage: unknown): usage is DmaResvUsage {
  return usage === 0 || usage === 1 || usage === 2 || usage === 3 || usage === 4;
}

/** @internal */
export function badUsage(usage: unknown, who: string): DepError {
  return new DepError('EINVAL', `${who}: usage ${String(usage)} is not a DmaResvUsage; pass DmaResvUsage.KERNEL, WRITE, READ, BOOKKEEP or PREEMPT`);
}

/** @internal Validate a usage argument (any usage may be *queried*). */
export function checkUsage(usage: unknown, who: string): asserts usage is DmaResvUsage {
  if (!isUsage(usage)) throw badUsage(usage, who);
}
