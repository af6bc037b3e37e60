import { DepError } from './error.js';
import { isDepWarning, type DepWarning, type Report } from './report.js';
import type { Runtime } from './runtime.js';

/**
 * A tracked object's registration, returned by {@link LifetimeTracker.track} and handed
 * back to {@link LifetimeTracker.release}.
 */
export interface LifetimeToken {
  /** Per-runtime number, in creation order (0 for the untracked token of checks `off`). */
  readonly id: number;
  readonly kind: string;
  /** True once released. */
  readonly released: boolean;
  /**
   * The object's reference count as its owner last set it ({@link Kref} keeps it current),
   * shown in leak reports; undefined if the owner does not say.
   */
  refcount: number | undefined;
  /** Where the object was created: the `site` string given, a stack excerpt, or a placeholder. */
  site(): string;
}

const NO_SITE = '(no site: pass a site string, or run with checks strict to capture a stack)';

/**
 * What the tracker keeps per object. It holds no reference to the object itself, so the
 * checker never keeps an object graph alive (the tracker's maps are weak in the object):
 * a leaked object may be collected, and its entry still makes the leak report.
 */
class Entry implements LifetimeToken {
  readonly id: number;
  readonly kind: string;
  released = false;
  releasedAt = 0;
  releasedBy: { toString(): string } = '';
  refcount: number | undefined = undefined;
  /** The tracker that made it. */
  readonly tracker: LifetimeTracker;
  /** Neighbours on the tracker's list of live entries (creation order); null at the ends or once released. */
  prev: Entry | null = null;
  next: Entry | null = null;
  /** A string site, or an Error whose stack is formatted only when a report needs it. */
  #site: string | Error | undefined;

  constructor(tracker: LifetimeTracker, id: number, kind: string, site: string | Error | undefined) {
    this.tracker = tracker;
    this.id = id;
    this.kind = kind;
    this.#site = site;
  }

  site(): string {
    const s = this.#site;
    if (s === undefined) return NO_SITE;
    if (typeof s === 'string') return s;
    const formatted = formatStack(s);
    this.#site = formatted;
    return formatted;
  }

  label(): string {
    return `${this.kind} #${this.id}${this.refcount === undefined ? '' : ` (refcount ${this.refcount})`}`;
  }
}

/** Base of {@link EntrySlot}: its constructor returns the object it is given. */
class ReturnsObject {
  constructor(obj: object) {
    return obj;
  }
}

/**
 * A private slot stamped onto a tracked object, holding its latest entry: the object
 * points at its entry, never the other way, so the tracker stays weak in the object
 * without a weak-map entry per object (a WeakMap keyed by short-lived objects costs about
 * a microsecond per object in GC work once it holds 1e5 of them). Private names are
 * invisible to reflection, enumeration and equality checks, so the object looks the same.
 */
class EntrySlot extends ReturnsObject {
  #entry: Entry;

  private constructor(obj: object, entry: Entry) {
    super(obj);
    this.#entry = entry;
  }

  /** The entry in `obj`'s slot, if it has one. */
  static read(obj: object): Entry | undefined {
    return #entry in obj ? obj.#entry : undefined;
  }

  /** Put `entry` in `obj`'s slot; false if the slot cannot be added (the engine refuses). */
  static write(obj: object, entry: Entry): boolean {
    if (#entry in obj) {
      obj.#entry = entry;
      return true;
    }
    try {
      new EntrySlot(obj, entry);
      return true;
    } catch {
      return false;
    }
  }
}

/** The token of untracked objects (checks `off`): releasing it does nothing. */
const UNTRACKED: LifetimeToken = Object.freeze({
  id: 0,
  kind: 'untracked',
  released: false,
  refcount: undefined,
  site: () => NO_SITE,
});

/** Top frames of a captured creation stack, `at` prefixes dropped, joined with ` <- `. */
function formatStack(e: Error): string {
  const lines = (e.stack ?? '').split('\n').slice(1);
  const frames: string[] = [];
  for (const raw of lines) {
    const l = raw.trim().replace(/^at /, '');
    if (l === '' || l.startsWith('Error')) continue;
    frames.push(l);
    if (frames.length === 4) break;
  }
  return frames.length === 0 ? NO_SITE : frames.join(' <- ');
}

/**
 * `rt.lifetimes`: the checked-mode leak and use-after-free tracker (what KASAN and kmemleak
 * find in the kernel, for objects whose lifetime the kernel governs by refcounts).
 *
 * Layers register an object when it is created ({@link track}, {@link Kref} does it for
 * refcounted objects), release it when its last reference goes ({@link release}), and call
 * {@link assertAlive} on entry to their methods. A use after release is a `use-after-free`
 * report; objects still registered at `rt.shutdown()` are `leak` reports naming their kind
 * and creation site.
 *
 * **Creation sites.** An explicit `site` string is used as given (cheap; the recommended
 * way for objects made in bulk). Without one, checks `strict` capture an `Error` at
 * creation and format its stack only if a report needs it (V8 formats lazily, so the cost
 * is the capture, about a microsecond); checks `warn` record no site.
 *
 * With checks `off` nothing is tracked: {@link track} returns a shared inert token and the
 * other methods return at once. JS memory never depends on any of this (the GC frees).
 * Any context.
 */
export class LifetimeTracker {
  /** False with checks `off`. */
  readonly enabled: boolean;
  readonly #rt: Runtime;
  readonly #captureStacks: boolean;
  /** Entries not yet released, in creation order (a list through Entry.prev/next; strong on entries only). */
  #head: Entry | null = null;
  #tail: Entry | null = null;
  #liveCount = 0;
  /**
   * Object → its latest entry, alive or released (weak in the object), for objects whose
   * slot ({@link EntrySlot}) holds another tracker's entry or cannot be added. Every
   * other object keeps its latest entry in its own slot.
   */
  readonly #byObj = new WeakMap<object, Entry>();
  #nextId = 1;

  constructor(rt: Runtime) {
    this.#rt = rt;
    this.enabled = rt.checks !== 'off';
    this.#captureStacks = rt.checks === 'strict';
  }

  /** Number of objects registered and not yet released. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Tokens of the objects registered and not yet released, in creation order. */
  live(): LifetimeToken[] {
    const out: LifetimeToken[] = [];
    for (let e = this.#head; e !== null; e = e.next) out.push(e);
    return out;
  }

  /**
   * Register `obj` (a fence, a job, a queue) as alive, of `kind` (`'dma_fence'`), created
   * at `site`. The tracker keeps no reference to `obj`. Throws
   * `DepError('EINVAL')` for a non-object or an empty kind and `DepError('EEXIST')` if
   * `obj` is already registered and alive (nothing changes). Re-registering a released
   * object (memory reused) is allowed.
   */
  track(obj: object, kind: string, site?: string): LifetimeToken {
    if (!this.enabled) return UNTRACKED;
    if ((typeof obj !== 'object' && typeof obj !== 'function') || obj === null) {
      throw new DepError('EINVAL', `lifetimes.track(${String(obj)}): only objects can be tracked`);
    }
    if (typeof kind !== 'string' || kind.length === 0) {
      throw new DepError('EINVAL', 'lifetimes.track(obj, kind): pass the object kind as a non-empty string, e.g. "dma_fence"');
    }
    const existing = this.#entryOf(obj);
    if (existing !== undefined && !existing.released) {
      throw new DepError('EEXIST', `lifetimes.track: this object is already tracked as ${existing.label()} created at ${existing.site()}; release it first`);
    }
    const where: string | Error | undefined =
      site !== undefined ? site : this.#captureStacks ? captureSite() : undefined;
    const entry = new Entry(this, this.#nextId++, kind, where);
    const slot = EntrySlot.read(obj);
    if ((slot === undefined || slot.tracker === this) && EntrySlot.write(obj, entry)) {
      // a latest entry of this tracker in the weak map is superseded by the slot
      if (slot === undefined && existing !== undefined) this.#byObj.delete(obj);
    } else {
      this.#byObj.set(obj, entry);
    }
    const tail = this.#tail;
    entry.prev = tail;
    if (tail === null) this.#head = entry;
    else tail.next = entry;
    this.#tail = entry;
    this.#liveCount++;
    return entry;
  }

  /**
   * The object's last reference is gone (`kfree`). Releasing twice is a `use-after-free`
   * report (a double free); the inert token of checks `off` is ignored.
   */
  release(token: LifetimeToken): void {
    if (token === UNTRACKED || !this.enabled) return;
    if (!(token instanceof Entry)) {
      throw new DepError('EINVAL', 'lifetimes.release: pass the token that lifetimes.track() returned');
    }
    if (token.released) {
      this.#rt.reports.report('use-after-free', `double free of ${token.label()}`, [
        `created at: ${token.site()}`,
        `first released at ${token.releasedAt}ms by ${token.releasedBy.toString()}`,
      ]);
      return;
    }
    token.released = true;
    token.releasedAt = this.#rt.now();
    token.releasedBy = this.#rt.current;
    this.#unlink(token);
  }

  /** The token under which `obj` is registered (alive or released), if any. */
  tokenOf(obj: object): LifetimeToken | undefined {
    return this.#entryOf(obj);
  }

  /** True if `obj` was registered and released since (untracked objects: false). */
  isReleased(obj: object): boolean {
    return this.enabled && this.#entryOf(obj)?.released === true;
  }

  /**
   * Check on entry to a method that `obj` was not released: otherwise a `use-after-free`
   * report naming `what` (the operation, e.g. `'dma_fence_signal'`), the object's kind,
   * creation site and when it was released. Returns true if the object may be used
   * (untracked objects and checks `off`: always true).
   */
  assertAlive(obj: object, what: string): boolean {
    if (!this.enabled) return true;
    const entry = this.#entryOf(obj);
    if (entry === undefined || !entry.released) return true;
    this.#rt.reports.report('use-after-free', `${what}: use of ${entry.label()} after its last put`, [
      `created at: ${entry.site()}`,
      `released at ${entry.releasedAt}ms by ${entry.releasedBy.toString()}`,
    ]);
    return false;
  }

  /** The latest entry of `obj` in this tracker: its slot, else the weak map. */
  #entryOf(obj: object): Entry | undefined {
    if (typeof obj !== 'object' && typeof obj !== 'function') return undefined;
    if (obj === null) return undefined;
    const slot = EntrySlot.read(obj);
    if (slot !== undefined && slot.tracker === this) return slot;
    return this.#byObj.get(obj);
  }

  /** Take a released entry off the live list. */
  #unlink(e: Entry): void {
    const { prev, next } = e;
    if (prev === null) this.#head = next;
    else prev.next = next;
    if (next === null) this.#tail = prev;
    else next.prev = prev;
    e.prev = null;
    e.next = null;
    this.#liveCount--;
  }

  /**
   * Report every object still alive as a `leak`, one report per kind and creation site
   * (with the number of objects and, for up to 8 of them, their state). Runs at
   * `rt.shutdown()`; may be called earlier. Under checks `strict` every report is recorded
   * first, then the first one is thrown as a `DepWarning`. Returns the reports.
   */
  reportLeaks(): Report[] {
    if (!this.enabled || this.#liveCount === 0) return [];
    const groups = new Map<string, Entry[]>();
    for (let entry = this.#head; entry !== null; entry = entry.next) {
      const key = `${entry.kind}\u0000${entry.site()}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = [];
        groups.set(key, g);
      }
      g.push(entry);
    }
    const out: Report[] = [];
    let first: DepWarning | null = null;
    for (const g of groups.values()) {
      const e0 = g[0]!;
      const details = g.slice(0, 8).map((e) => `alive: ${e.label()}`);
      if (g.length > 8) details.push(`… and ${g.length - 8} more`);
      const message = `${g.length} ${e0.kind} object${g.length === 1 ? '' : 's'} created at ${e0.site()} still alive at shutdown`;
      try {
        out.push(this.#rt.reports.report('leak', message, details));
      } catch (e) {
        if (!isDepWarning(e)) throw e;
        out.push(e.report);
        first ??= e;
      }
    }
    if (first !== null) throw first;
    return out;
  }
}

function captureSite(): Error {
  const e = new Error('creation site');
  const capture = (Error as { captureStackTrace?: (o: object, fn?: unknown) => void }).captureStackTrace;
  if (capture !== undefined) capture(e, LifetimeTracker.prototype.track);
  return e;
}
