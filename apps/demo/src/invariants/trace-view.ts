/**
 * Small readers over trace records shared by the invariants: typed argument access and
 * drm_dep queue instances (a queue name can come back after its queue was released, with
 * seqnos starting over, so records are keyed by instance, not by name).
 */
import type { TraceRecord } from '@dep/kernel';

/** An argument of a record as a string (bigints without the `n`). */
export function argStr(r: TraceRecord, key: string): string {
  const v = (r.args as Record<string, unknown>)[key];
  return typeof v === 'bigint' ? v.toString() : String(v);
}

/** An argument of a record as a number (NaN when absent). */
export function argNum(r: TraceRecord, key: string): number {
  const v = (r.args as Record<string, unknown>)[key];
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
}

/**
 * Calls `visit` for every `drm_dep:*` record with the key of its queue instance
 * (`name#n`, n counting the `queue_init`s of that name so far).
 */
export function forEachQueueRecord(records: readonly TraceRecord[], visit: (queue: string, r: TraceRecord) => void): void {
  const instance = new Map<string, number>();
  for (const r of records) {
    if (!r.name.startsWith('drm_dep:')) continue;
    const name = argStr(r, 'queue');
    if (r.name === 'drm_dep:queue_init') instance.set(name, (instance.get(name) ?? 0) + 1);
    const n = instance.get(name) ?? 0;
    visit(n <= 1 ? name : `${name}#${n}`, r);
  }
}

/** At most `max` items of a list, then `…`. */
export function few(items: readonly string[], max = 3): string {
  return items.length > max ? `${items.slice(0, max).join(', ')}, … (${items.length} in all)` : items.join(', ');
}

/** `label: ` for a run with several traces (variants), nothing for a single one. */
export function where(label: string, traces: number): string {
  return traces > 1 ? `[${label}] ` : '';
}
