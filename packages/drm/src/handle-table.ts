/**
 * Per-file handle tables: the kernel's `idr` as DRM uses it (`idr_alloc(idr, ptr, 1, 0,
 * …)`: the lowest free id ≥ 1), one per kind of object a client can name (GEM objects,
 * syncobjs, and whatever a driver adds: exec queues, contexts, VMs).
 */
import { DepError, GFP_KERNEL, type Runtime } from '@dep/kernel';
import { U32_MAX } from './validate.js';

/** Options of a {@link HandleTable}. */
export interface HandleTableOptions<T> {
  /**
   * What the file does with an entry still in the table when it is closed (the driver's
   * `postclose` for its own tables: put the object, kill the queue), called in handle
   * order like `idr_for_each`. May sleep.
   */
  readonly release?: (obj: T, handle: number) => void | Promise<void>;
  /** Allocation-hook site of {@link HandleTable.alloc} (default `idr_alloc:<name>`). */
  readonly site?: string;
}

/**
 * A table of u32 handles (`struct idr`). Handles start at 1 and the lowest free one is
 * reused first, as `idr_alloc(…, 1, 0, …)` does. A handle means something only in the
 * table (the file) that allocated it.
 */
export class HandleTable<T> {
  readonly name: string;
  readonly runtime: Runtime;
  readonly #entries = new Map<number, T>();
  /** Freed ids below `#next`, as a binary min-heap. */
  readonly #free: number[] = [];
  #next = 1;
  readonly #site: string;
  /** @internal The release callback the owning file runs at close. */
  readonly _release: ((obj: T, handle: number) => void | Promise<void>) | undefined;

  constructor(runtime: Runtime, name: string, options: HandleTableOptions<T> = {}) {
    if (typeof name !== 'string' || name.length === 0) throw new DepError('EINVAL', 'new HandleTable(rt, name): pass the table name');
    this.runtime = runtime;
    this.name = name;
    this.#site = options.site ?? `idr_alloc:${name}`;
    this._release = options.release;
  }

  /** Number of live handles. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * `idr_alloc()`: a new handle for `obj` — the lowest free one ≥ 1. Goes through the
   * allocation hook (GFP_KERNEL, the table's site): ENOMEM under fault injection, nothing
   * changed; ENOSPC when every u32 is taken.
   */
  alloc(obj: T): number {
    this.runtime.alloc(GFP_KERNEL, this.#site);
    let id: number;
    if (this.#free.length > 0) {
      id = this.#popFree();
    } else {
      if (this.#next > U32_MAX) throw new DepError('ENOSPC', `${this.name}: every u32 handle is in use`);
      id = this.#next++;
    }
    this.#entries.set(id, obj);
    return id;
  }

  /** `idr_find()`: the object behind `handle`, or undefined (any value that is not a live handle). */
  lookup(handle: number): T | undefined {
    return this.#entries.get(handle);
  }

  /** True if `handle` is live. */
  has(handle: number): boolean {
    return this.#entries.has(handle);
  }

  /** `idr_remove()`: forget `handle`; returns its object, or undefined if it was not live. */
  remove(handle: number): T | undefined {
    const obj = this.#entries.get(handle);
    if (obj === undefined) return undefined;
    this.#entries.delete(handle);
    this.#pushFree(handle);
    return obj;
  }

  /** `idr_replace()`: point a live handle at another object; returns the old one (undefined if not live: nothing changes). */
  replace(handle: number, obj: T): T | undefined {
    const old = this.#entries.get(handle);
    if (old === undefined) return undefined;
    this.#entries.set(handle, obj);
    return old;
  }

  /** The handle `obj` is registered under (the first one, in handle order), or undefined. */
  handleOf(obj: T): number | undefined {
    let best: number | undefined;
    for (const [h, o] of this.#entries) if (o === obj && (best === undefined || h < best)) best = h;
    return best;
  }

  /** Live `[handle, object]` pairs in handle order (`idr_for_each`). */
  entries(): Array<[number, T]> {
    return [...this.#entries].sort((a, b) => a[0] - b[0]);
  }

  /** @internal Empty the table (the file's release), returning what was in it, in handle order. */
  _drain(): Array<[number, T]> {
    const all = this.entries();
    this.#entries.clear();
    this.#free.length = 0;
    this.#next = 1;
    return all;
  }

  #pushFree(id: number): void {
    const h = this.#free;
    h.push(id);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  #popFree(): number {
    const h = this.#free;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
