import { isAtomicContext, type ExecContext } from './context.js';
import { DepError } from './error.js';
import type { Runtime } from './runtime.js';
import type { HeldLock, Task } from './task.js';

/**
 * lockdep: the runtime lock validator (kernel/locking/lockdep.c), reduced to what a
 * one-thread simulation can check and faithful in what it reports.
 *
 * - Lock classes ({@link LockClass}): every lock belongs to a class named like the
 *   kernel's lock_class_key (`'dma_resv'`, `'&fence->lock'`); subclasses
 *   (`spin_lock_nested`) are distinct classes named `name/N`.
 * - The acquisition-order graph: an edge A → B when B is taken while A is held, with the
 *   site (task, context, time, caller) where it was first seen. A new edge that closes a
 *   cycle is reported at once ("possible circular locking dependency detected") with both
 *   chains. Read acquisitions follow the kernel's recursive-read rules (a cycle counts only
 *   if it is a "strong" path: no `-(xR)->` edge followed by a `-(Sx)->` edge).
 * - Recursive locking: the same class taken twice by one task without a nesting subclass or
 *   a held nest lock ("possible recursive locking detected").
 * - irq state: a class taken in irq (timer) context is HARDIRQ-safe (SOFTIRQ-safe); one
 *   held with irqs enabled in a task is HARDIRQ-unsafe (SOFTIRQ-unsafe, unless in softirq
 *   context). Both at once is "inconsistent lock state"; a dependency from a safe class to
 *   an unsafe one is "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", checked when the
 *   edge appears and when a class's usage changes ("possible irq lock inversion
 *   dependency detected").
 * - The dma-fence signalling annotation: {@link Lockdep.beginSignalling} /
 *   {@link Lockdep.endSignalling} hold the pseudo-lock `dma_fence_map` (read, trylock:
 *   nothing orders before it), {@link Lockdep.mightWait} records held locks → `dma_fence_map`
 *   and reports a wait inside a signalling section; {@link Lockdep.prime} records the boot
 *   order (`mmap_lock → dma_resv → fs_reclaim → dma_fence_map`) so taking a `dma_resv` lock
 *   inside a signalling section closes a cycle.
 *
 * With checks `off` {@link Lockdep.enabled} is false and every entry point returns at once:
 * no classes are marked, no held list is kept, nothing is reported.
 *
 * Reports are of kind `'lockdep'` through the runtime's WARN sink (they throw
 * {@link DepWarning} under checks `strict`). Bookkeeping is complete before any report, so
 * a thrown report leaves lockdep consistent (the acquisition it reports on is recorded as
 * held, as the kernel's splat does not undo the lock).
 */

/** Name of the dma-fence signalling pseudo-lock (`dma_fence_lockdep_map`). */
export const DMA_FENCE_MAP = 'dma_fence_map';

/** Subclasses per class (`MAX_LOCKDEP_SUBCLASSES`). */
export const MAX_LOCKDEP_SUBCLASSES = 8;

/** How a lock is taken: exclusive, shared (read) or recursive-read (`read_lock`, rcu-style). */
export type LockReadMode = boolean | 'recursive';

/** Options of {@link Lockdep.acquire} (`lock_acquire`). */
export interface AcquireOptions {
  /** True for a sleeping lock (mutex, pseudo-locks), false for a spinning one. */
  readonly sleeping: boolean;
  /** `true`: shared (non-recursive read); `'recursive'`: recursive read. Default exclusive. */
  readonly read?: LockReadMode;
  /** A trylock: no dependency is recorded towards it (it cannot block), only from it. */
  readonly trylock?: boolean;
  /** Nesting subclass 0…7 (`spin_lock_nested`, `mutex_lock_nested`): a distinct class. */
  readonly subclass?: number;
  /**
   * A lock (held by this task) that serialises nesting of this class (`mutex_lock_nest_lock`,
   * the ww_acquire_ctx of a ww_mutex): same-class nesting under it is not a report.
   */
  readonly nestLock?: object;
}

/** One edge of the acquisition-order graph. */
export interface LockDependency {
  /** Held class. */
  readonly from: LockClass;
  /** Class acquired while `from` was held. */
  readonly to: LockClass;
  /**
   * Kinds seen, as the kernel's dep bits: `EN` (from held exclusive, to non-recursive),
   * `ER`, `SN` (from held shared), `SR`.
   */
  readonly kinds: readonly ('EN' | 'ER' | 'SN' | 'SR')[];
  /** Where it was first seen: task, context, time, call site. */
  readonly site: string;
}

// dep kinds (kernel: DEP_SR_BIT…): bit = (fromShared ? 2 : 0) | (toRecursive ? 1 : 0)
const DEP_EN = 1 << 0;
const DEP_ER = 1 << 1;
const DEP_SN = 1 << 2;
const DEP_SR = 1 << 3;
const DEP_FROM_EXCLUSIVE = DEP_EN | DEP_ER;
const DEP_TO_RECURSIVE = DEP_ER | DEP_SR;
const DEP_TO_NONRECURSIVE = DEP_EN | DEP_SN;

function depBit(fromShared: boolean, toRecursive: boolean): number {
  return fromShared ? (toRecursive ? DEP_SR : DEP_SN) : toRecursive ? DEP_ER : DEP_EN;
}

function depKinds(bits: number): ('EN' | 'ER' | 'SN' | 'SR')[] {
  const out: ('EN' | 'ER' | 'SN' | 'SR')[] = [];
  if (bits & DEP_EN) out.push('EN');
  if (bits & DEP_ER) out.push('ER');
  if (bits & DEP_SN) out.push('SN');
  if (bits & DEP_SR) out.push('SR');
  return out;
}

// usage bits (kernel: LOCK_USED_IN_HARDIRQ…)
const USED_IN_HARDIRQ = 1 << 0;
const USED_IN_HARDIRQ_READ = 1 << 1;
const ENABLED_HARDIRQ = 1 << 2;
const ENABLED_HARDIRQ_READ = 1 << 3;
const USED_IN_SOFTIRQ = 1 << 4;
const USED_IN_SOFTIRQ_READ = 1 << 5;
const ENABLED_SOFTIRQ = 1 << 6;
const ENABLED_SOFTIRQ_READ = 1 << 7;

const USAGE_NAMES: Record<number, string> = {
  [USED_IN_HARDIRQ]: 'IN-HARDIRQ-W',
  [USED_IN_HARDIRQ_READ]: 'IN-HARDIRQ-R',
  [ENABLED_HARDIRQ]: 'HARDIRQ-ON-W',
  [ENABLED_HARDIRQ_READ]: 'HARDIRQ-ON-R',
  [USED_IN_SOFTIRQ]: 'IN-SOFTIRQ-W',
  [USED_IN_SOFTIRQ_READ]: 'IN-SOFTIRQ-R',
  [ENABLED_SOFTIRQ]: 'SOFTIRQ-ON-W',
  [ENABLED_SOFTIRQ_READ]: 'SOFTIRQ-ON-R',
};

interface IrqKind {
  readonly name: 'HARDIRQ' | 'SOFTIRQ';
  readonly usedIn: number;
  readonly usedInRead: number;
  readonly enabled: number;
  readonly enabledRead: number;
}
const HARDIRQ: IrqKind = { name: 'HARDIRQ', usedIn: USED_IN_HARDIRQ, usedInRead: USED_IN_HARDIRQ_READ, enabled: ENABLED_HARDIRQ, enabledRead: ENABLED_HARDIRQ_READ };
const SOFTIRQ: IrqKind = { name: 'SOFTIRQ', usedIn: USED_IN_SOFTIRQ, usedInRead: USED_IN_SOFTIRQ_READ, enabled: ENABLED_SOFTIRQ, enabledRead: ENABLED_SOFTIRQ_READ };

function irqKindOf(bit: number): IrqKind {
  return bit >= USED_IN_SOFTIRQ ? SOFTIRQ : HARDIRQ;
}

/** Next {@link LockClass.id}. */
let nextClassId = 1;

/**
 * A lock class (`struct lock_class`): what lockdep reasons about. Get one with
 * {@link Lockdep.classFor}; subclasses with {@link LockClass.sub}.
 */
export class LockClass {
  /** Class name as reports print it (`name` or `name/N` for a subclass). */
  readonly name: string;
  /** @internal A number unique to this class (subclasses included): its part of a chain key. */
  readonly id: number = nextClassId++;
  /** Subclass number (0 for the base class). */
  readonly subclass: number;
  /** The base class (itself for subclass 0). */
  readonly base: LockClass;
  /** @internal Edges to classes taken while this one is held. */
  readonly out = new Map<LockClass, LockEdge>();
  /** @internal Edges from classes held when this one was taken. */
  readonly in = new Map<LockClass, LockEdge>();
  /** @internal Usage bits (irq state). */
  usage = 0;
  /** @internal Where each usage bit was first set. */
  readonly usageSites = new Map<number, string>();
  readonly #subs: Array<LockClass | undefined> = [];
  /** @internal */
  readonly owner: Lockdep;

  /** @internal Made by {@link Lockdep.classFor}. */
  constructor(owner: Lockdep, name: string, subclass = 0, base?: LockClass) {
    this.owner = owner;
    this.subclass = subclass;
    this.base = base ?? this;
    this.name = subclass === 0 ? name : `${name}/${subclass}`;
  }

  /** Subclass `n` (0…7) of this class: a distinct class for nesting (`SINGLE_DEPTH_NESTING` = 1). */
  sub(n: number): LockClass {
    if (!Number.isInteger(n) || n < 0 || n >= MAX_LOCKDEP_SUBCLASSES) {
      throw new DepError('EINVAL', `lock subclass ${String(n)} of ${this.base.name}: pass an integer 0…${MAX_LOCKDEP_SUBCLASSES - 1} (MAX_LOCKDEP_SUBCLASSES)`);
    }
    const base = this.base;
    if (n === 0) return base;
    let s = base.#subs[n];
    if (s === undefined) {
      s = new LockClass(this.owner, base.name, n, base);
      base.#subs[n] = s;
    }
    return s;
  }

  /** True if taken in hardirq context (`LOCK_USED_IN_HARDIRQ`). */
  get hardirqSafe(): boolean {
    return (this.usage & (USED_IN_HARDIRQ | USED_IN_HARDIRQ_READ)) !== 0;
  }

  /** True if held with hardirqs enabled (`LOCK_ENABLED_HARDIRQ`). */
  get hardirqUnsafe(): boolean {
    return (this.usage & (ENABLED_HARDIRQ | ENABLED_HARDIRQ_READ)) !== 0;
  }

  /** The subclasses made so far (not the base class). */
  subclasses(): LockClass[] {
    const out: LockClass[] = [];
    for (const s of this.base.#subs) if (s !== undefined) out.push(s);
    return out;
  }

  toString(): string {
    return this.name;
  }
}

/** An edge of the lock-order graph: `to` was taken while `from` was held (first seen at `site`). */
export interface LockEdge {
  readonly from: LockClass;
  readonly to: LockClass;
  bits: number;
  readonly site: string;
}

/** @internal One entry of {@link Task.held} as lockdep keeps it (`struct held_lock`). */
class HeldEntry implements HeldLock {
  readonly className: string;
  readonly lock: object;
  readonly sleeping: boolean;
  readonly read: boolean;
  readonly cls: LockClass;
  /** 0 exclusive, 1 shared, 2 recursive read. */
  readonly readMode: 0 | 1 | 2;
  readonly trylock: boolean;
  /** Acquired with irqs disabled (or in irq context). */
  readonly irqsOff: boolean;
  /**
   * The validated chain this entry tops (held locks up to and including this one), or
   * null if that chain is not cached (it was reported on, or sits on an uncached one).
   */
  chain: LockChain | null;
  /** Index in `task.held` at push: a chain is only trusted while the entry is still there. */
  readonly depth: number;

  constructor(cls: LockClass, lock: object, sleeping: boolean, readMode: 0 | 1 | 2, trylock: boolean, irqsOff: boolean, chain: LockChain | null = null, depth = -1) {
    this.className = cls.name;
    this.lock = lock;
    this.sleeping = sleeping;
    this.read = readMode !== 0;
    this.cls = cls;
    this.readMode = readMode;
    this.trylock = trylock;
    this.irqsOff = irqsOff;
    this.chain = chain;
    this.depth = depth;
  }
}

/**
 * @internal One validated held-lock chain (`struct lock_chain` in the kernel's chain
 * hash): the classes held, innermost last, each with how it was taken (read mode,
 * trylock, irqs off) and the task's context. A chain exists only once acquiring its last
 * lock on top of its parent chain was validated with nothing to report: no recursion, no
 * new usage conflict, no new dependency that closes a cycle or an irq inversion. The
 * graph and the usage bits only grow (until {@link Lockdep.reset}, which starts a new
 * generation), so the same acquisition on the same chain again would find everything
 * already recorded and report nothing: {@link Lockdep.acquire} skips the validation
 * (`lookup_chain_cache`). Keys are exact (class id and mode bits), not hashes: no
 * collisions.
 */
class LockChain {
  /** The {@link Lockdep} generation it was validated in. */
  readonly gen: number;
  /** Validated one-lock extensions, by {@link chainKey}. */
  children: Map<number, LockChain> | null = null;
  /** The extension found last (most chains have one): checked before the map. */
  lastKey = -1;
  lastChild: LockChain | null = null;

  constructor(gen: number) {
    this.gen = gen;
  }

  /** The cached extension by `key`, or undefined. */
  find(key: number): LockChain | undefined {
    if (key === this.lastKey) return this.lastChild!;
    const children = this.children;
    if (children === null) return undefined;
    const c = children.get(key);
    if (c !== undefined) {
      this.lastKey = key;
      this.lastChild = c;
    }
    return c;
  }

  /** The extension by `key`, made (cached) on first use. */
  child(key: number): LockChain {
    let c = this.find(key);
    if (c === undefined) {
      c = new LockChain(this.gen);
      (this.children ??= new Map()).set(key, c);
      this.lastKey = key;
      this.lastChild = c;
    }
    return c;
  }
}

/**
 * A copy of a recently made held entry (every 64th; holding a sentinel, not the real
 * lock, so no user object is kept), kept so that HeldEntry's hidden class always has a live
 * instance: V8 collects a hidden class no live object has at a full GC and deoptimizes the
 * code that embeds it, so with every entry released (the common state between bursts of
 * locking) each full GC would send the locking paths back through deoptimization and
 * re-optimization (measured: ≈ 3× the cost of a lock/unlock for the next 1e5 of them).
 * Keeps one entry (its class, and so its lockdep) alive.
 */
const keepAlive: { made: number; held: HeldEntry | null } = { made: 0, held: null };

/** The lock object of a kept entry: the entry must not keep a real lock (and what hangs off it) alive. */
const SENTINEL_LOCK: object = Object.freeze({ name: 'lockdep keep-alive sentinel' });

/** Push `h` on the task's held locks; every 64th entry also leaves a sentinel copy in {@link keepAlive}. */
function pushHeld(held: HeldEntry[], h: HeldEntry): void {
  if ((keepAlive.made = (keepAlive.made + 1) & 63) === 0) {
    keepAlive.held = new HeldEntry(h.cls, SENTINEL_LOCK, h.sleeping, h.readMode, h.trylock, h.irqsOff, h.chain, h.depth);
  }
  held.push(h);
}

/** The chain key of one acquisition: class, read mode, trylock, irqs off, context. */
function chainKey(cls: LockClass, readMode: 0 | 1 | 2, trylock: boolean, irqsOff: boolean, context: ExecContext): number {
  const ctx = context === 'process' ? 0 : context === 'worker' ? 1 : context === 'irq' ? 2 : 3;
  return cls.id * 64 + readMode * 16 + (trylock ? 8 : 0) + (irqsOff ? 4 : 0) + ctx;
}

type Pending = { readonly message: string; readonly details: readonly string[] };

/** Files whose frames are skipped when naming the site of an edge. */
const INTERNAL_FRAME = /[\\/](lockdep|spinlock|mutex|ww-mutex|completion|runtime|executor|virtual-executor)\.[tj]s|node:internal|node_modules/;

/**
 * The lock validator of one {@link Runtime} (`rt.lockdep`). See the module comment for what
 * it checks. Every method may be called from any context.
 */
export class Lockdep {
  /** False under checks `off`: every entry point returns at once (the fast path). */
  readonly enabled: boolean;
  readonly #rt: Runtime;
  readonly #classes = new Map<string, LockClass>();
  /** The `dma_fence_map` pseudo-lock class. */
  readonly signallingClass: LockClass;
  /** The single `dma_fence_lockdep_map` instance. */
  readonly #fenceMap: object = { name: DMA_FENCE_MAP };
  /** Chain-cache generation: {@link reset} starts a new one, so older chains are not trusted. */
  #gen = 0;
  /** The empty chain (nothing held) of the current generation. */
  #chainRoot = new LockChain(0);

  /** Made by the {@link Runtime} constructor. */
  constructor(rt: Runtime) {
    this.#rt = rt;
    this.enabled = rt.checks !== 'off';
    this.signallingClass = this.classFor(DMA_FENCE_MAP);
  }

  // --- classes -----------------------------------------------------------------------

  /**
   * The class named `name`, made on first use (a `lock_class_key`): every lock made with the
   * same name is of the same class. Works with checks `off` too (a class is just a name).
   */
  classFor(name: string): LockClass {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', `lockdep.classFor(${String(name)}): pass a non-empty class name such as 'dma_resv'`);
    }
    let cls = this.#classes.get(name);
    if (cls === undefined) {
      cls = new LockClass(this, name);
      this.#classes.set(name, cls);
    }
    return cls;
  }

  /** Every class made so far (base classes; subclasses via {@link LockClass.sub}). */
  classes(): readonly LockClass[] {
    return [...this.#classes.values()];
  }

  // --- acquire / release -----------------------------------------------------------------

  /**
   * `lock_acquire`: record that the current task takes `lock` of class `cls`. Checks
   * recursive locking, marks irq usage, records dependencies from the held locks and checks
   * them for cycles and irq inversion. The lock is recorded as held before anything is
   * reported. Lock primitives call this; call it directly for pseudo-locks
   * (`fs_reclaim`, maps). Bad arguments: DepError EINVAL, nothing recorded.
   */
  acquire(cls: LockClass, lock: object, opts: AcquireOptions): void {
    if (!this.enabled) return;
    if (!(cls instanceof LockClass) || cls.owner !== this) {
      throw new DepError('EINVAL', 'lockdep.acquire: pass a LockClass made by this runtime\'s lockdep.classFor()');
    }
    if (typeof lock !== 'object' || lock === null) {
      throw new DepError('EINVAL', `lockdep.acquire(${cls.name}): the lock must be an object (its identity is the lock instance)`);
    }
    if (typeof opts !== 'object' || opts === null || typeof opts.sleeping !== 'boolean') {
      throw new DepError('EINVAL', `lockdep.acquire(${cls.name}): pass options { sleeping: boolean, read?, trylock?, subclass?, nestLock? }`);
    }
    const read = opts.read ?? false;
    if (read !== true && read !== false && read !== 'recursive') {
      throw new DepError('EINVAL', `lockdep.acquire(${cls.name}): read must be true, false or 'recursive'`);
    }
    const node = opts.subclass === undefined || opts.subclass === 0 ? cls : cls.sub(opts.subclass);
    const readMode: 0 | 1 | 2 = read === 'recursive' ? 2 : read ? 1 : 0;
    this.#acquire(this.#rt.current, node, lock, opts.sleeping, readMode, opts.trylock === true, opts.nestLock ?? null);
  }

  /**
   * @internal {@link Lockdep.acquire} with `{ sleeping: false }` for a caller that already knows its
   * arguments are valid (a class made by this lockdep's `classFor`, an object lock): the
   * dma-fence lock. Same checks and reports, without the argument validation.
   */
  acquireSpin(cls: LockClass, lock: object): void {
    if (!this.enabled) return;
    this.#acquire(this.#rt.current, cls, lock, false, 0, false, null);
  }

  /**
   * @internal True when acquiring the spinning lock `lock` of class `cls` with irqs off, on
   * top of the current task's held locks, is a cached chain (`lookup_chain_cache` hit, see
   * {@link Lockdep.acquire}): validating it would record and report nothing. A caller that then
   * takes and releases the lock with nothing else acquired in between may skip
   * `acquire`/`release` (no held entry is made); it still calls {@link Lockdep.hardirqsOn} when its
   * irqrestore turns irqs back on. False (also when disabled): take the full path.
   */
  spinIrqChainCached(cls: LockClass, lock: object): boolean {
    if (!this.enabled) return false;
    const task = this.#rt.current;
    const held = task.held as HeldEntry[];
    const parent = this.#chainUnder(held);
    return parent !== null && parent.find(chainKey(cls, 0, false, true, task.context)) !== undefined && !holdsInstance(held, lock);
  }

  /**
   * The cached chain of the locks `held` now (the root when nothing is held), or null when
   * it is not cached or no longer trusted: the top entry moved (a lock under it was released
   * out of order) or its chain is from before a {@link reset}.
   */
  #chainUnder(held: readonly HeldEntry[]): LockChain | null {
    const depth = held.length;
    if (depth === 0) return this.#chainRoot;
    const top = held[depth - 1]!;
    const chain = top.chain;
    return top.depth === depth - 1 && chain !== null && chain.gen === this.#gen ? chain : null;
  }

  #acquire(task: Task, node: LockClass, lock: object, sleeping: boolean, readMode: 0 | 1 | 2, trylock: boolean, nest: object | null): void {
    const held = task.held as HeldEntry[];
    const depth = held.length;
    const irqsOff = task.irqsOff > 0 || task.context === 'irq';

    // lookup_chain_cache: the chain under this lock, if it is cached and still in place
    const parent = this.#chainUnder(held);
    const key = chainKey(node, readMode, trylock, irqsOff, task.context);
    if (parent !== null) {
      const hit = parent.find(key);
      // the cache knows classes, not instances: the same lock instance held (under
      // another class) is still check_deadlock's, so that goes the slow way
      if (hit !== undefined && (trylock || !holdsInstance(held, lock))) {
        pushHeld(held, new HeldEntry(node, lock, sleeping, readMode, trylock, irqsOff, hit, depth));
        return;
      }
    }

    const pending: Pending[] = [];
    const entry = new HeldEntry(node, lock, sleeping, readMode, trylock, irqsOff, null, depth);

    // check_deadlock: same class already held by this task (nested: record no dependency)
    let nested = false;
    if (!trylock) {
      let nestHeld = false;
      for (const prev of held) {
        if (nest !== null && prev.lock === nest) nestHeld = true;
        if (prev.cls !== node && prev.lock !== lock) continue;
        if (readMode === 2 && prev.readMode !== 0) continue;
        if (nestHeld && prev.lock !== lock) {
          nested = true;
          break;
        }
        pending.push(this.#recursiveReport(task, prev, entry));
        nested = true; // as the kernel: no dependencies are recorded for a reported recursion
        break;
      }
    }

    // mark_usage
    this.#markUsage(task, entry, pending);

    // check_prevs_add: from the held locks down to (and including) the first non-trylock one
    if (!trylock && !nested) {
      for (let i = held.length - 1; i >= 0; i--) {
        const prev = held[i]!;
        this.#addDependency(task, prev, node, readMode, pending);
        if (!prev.trylock) break;
      }
    }

    // a clean validation on a cached chain is cached (lookup_chain_cache_add)
    if (parent !== null && !nested && pending.length === 0) entry.chain = parent.child(key);
    pushHeld(held, entry);
    this.#emit(pending);
  }

  /**
   * `lock_release`: the current task releases `lock` (any held lock, not only the innermost).
   * Releasing a lock the task does not hold is reported ("bad unlock balance detected").
   */
  release(lock: object): void {
    if (!this.enabled) return;
    const task = this.#rt.current;
    const held = task.held;
    const last = held.length - 1;
    if (last >= 0 && held[last]!.lock === lock) {
      held.pop();
      return;
    }
    // not the innermost: the entries above move down, and their cached chains (which
    // include this lock) stop being trusted (HeldEntry.depth no longer matches)
    for (let i = last - 1; i >= 0; i--) {
      if (held[i]!.lock === lock) {
        held.splice(i, 1);
        return;
      }
    }
    this.#rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${task.toString()} is trying to release a lock it does not hold`, [
      `lock: ${describeLock(lock)}`,
      ...this.#heldLines(task),
    ]);
  }

  /**
   * `lockdep_is_held`: true if the current task holds `lock`. With lockdep disabled (checks
   * `off`) it returns true, as the kernel's does, so assertions built on it pass; use the
   * lock's own `isLocked` for logic.
   */
  isHeld(lock: object): boolean {
    if (!this.enabled) return true;
    const held = this.#rt.current.held;
    for (let i = held.length - 1; i >= 0; i--) if (held[i]!.lock === lock) return true;
    return false;
  }

  /**
   * `lockdep_assert_held`: reports (and under `strict` throws) if the current task does not
   * hold `lock`. `what` names the lock in the report. No-op with checks `off`.
   */
  assertHeld(lock: object, what?: string): void {
    if (!this.enabled) return;
    if (this.isHeld(lock)) return;
    const task = this.#rt.current;
    this.#rt.reports.report('lockdep', `lockdep_assert_held failed: ${what ?? describeLock(lock)} is not held by ${task.toString()}`, this.#heldLines(task));
  }

  /**
   * `lockdep_hardirqs_on`: irqs are being enabled (the last `unlockIrqrestore`) while the
   * current task still holds locks: those become HARDIRQ-unsafe (and SOFTIRQ-unsafe).
   * Called by {@link SpinLock}; a no-op in irq context.
   */
  hardirqsOn(): void {
    if (!this.enabled) return;
    const task = this.#rt.current;
    if (task.context === 'irq' || task.irqsOff > 0 || task.held.length === 0) return;
    const pending: Pending[] = [];
    for (const h of task.held as HeldEntry[]) {
      if (!h.irqsOff) continue;
      this.#markEnabled(task, h, pending);
    }
    this.#emit(pending);
  }

  // --- dma-fence signalling annotation ------------------------------------------------------

  /**
   * `dma_fence_begin_signalling`: start a fence signalling critical section on the current
   * task (increments `task.signalling`). Returns the cookie for {@link endSignalling}: true
   * when nested inside another section or in atomic context (nothing is acquired, as the
   * kernel does), false when it read-trylocks the `dma_fence_map` pseudo-lock. With checks
   * `off` it does nothing and returns true.
   */
  beginSignalling(): boolean {
    if (!this.enabled) return true;
    const task = this.#rt.current;
    task.signalling++;
    if (task.atomic > 0 || isAtomicContext(task.context)) return true;
    if (this.#holds(task, this.#fenceMap)) return true;
    this.#acquire(task, this.signallingClass, this.#fenceMap, true, 1, true, null);
    return false;
  }

  /**
   * `dma_fence_end_signalling(cookie)`: end the section begun by the
   * {@link beginSignalling} that returned `cookie`. A cookie that is not a boolean is a
   * DepError EINVAL; ending a section that was not begun on this task is reported.
   */
  endSignalling(cookie: boolean): void {
    if (typeof cookie !== 'boolean') {
      throw new DepError('EINVAL', `endSignalling(${String(cookie)}): pass the boolean cookie beginSignalling() returned`);
    }
    if (!this.enabled) return;
    const task = this.#rt.current;
    if (task.signalling <= 0) {
      this.#rt.reports.report('lockdep', `WARNING: bad unlock balance detected: dma_fence_end_signalling() on ${task.toString()} without dma_fence_begin_signalling()`, this.#heldLines(task));
      return;
    }
    task.signalling--;
    if (cookie) return;
    if (this.#holds(task, this.#fenceMap)) {
      this.release(this.#fenceMap);
      return;
    }
    this.#rt.reports.report('lockdep', `WARNING: bad unlock balance detected: ${task.toString()} ends a signalling section (cookie false) but does not hold ${DMA_FENCE_MAP}`, [
      'the cookie of a nested or atomic beginSignalling() is true; pass back exactly the value it returned',
      ...this.#heldLines(task),
    ]);
  }

  /** True while the current task is inside a fence signalling section. */
  inSignallingSection(): boolean {
    return this.enabled && this.#rt.current.signalling > 0;
  }

  /**
   * `dma_fence_might_wait` / `__dma_fence_might_wait`: the current code may wait for a
   * fence. Records the dependency held locks → `dma_fence_map` (so a lock later taken in a
   * signalling section closes a cycle with it), and reports "wait inside a fence signalling
   * section" when the task is inside one (the kernel finds this through the graph; here it
   * is reported directly). `what` names the wait in the report.
   */
  mightWait(what: string): void {
    if (!this.enabled) return;
    const task = this.#rt.current;
    const pending: Pending[] = [];
    const held = task.held as HeldEntry[];
    const node = this.signallingClass;
    // as the kernel: the read-held map is dropped, the map is taken exclusively, released
    const probe = new HeldEntry(node, this.#fenceMap, true, 0, false, task.irqsOff > 0 || task.context === 'irq');
    this.#markUsage(task, probe, pending);
    for (let i = held.length - 1; i >= 0; i--) {
      const prev = held[i]!;
      if (prev.lock === this.#fenceMap) continue;
      this.#addDependency(task, prev, node, 0, pending);
      if (!prev.trylock) break;
    }
    if (task.signalling > 0) {
      pending.push({
        message: `wait inside a fence signalling section: ${what}`,
        details: [
          `${task.toString()} may wait (${what}) inside dma_fence_begin_signalling()/dma_fence_end_signalling()`,
          'code on a fence signalling path must not wait for other fences: the fence it is signalling may be what they wait for',
          ...this.#heldLines(task),
        ],
      });
    }
    this.#emit(pending);
  }

  /**
   * Boot-time priming (`dma_resv_lockdep()`): record `order[0] → order[1] → …` as legal
   * exclusive dependencies, so the reverse order taken later is a cycle report. E.g.
   * `['mmap_lock', 'dma_resv', 'fs_reclaim', 'dma_fence_map']`. An order that contradicts
   * what was already seen is reported like any cycle.
   */
  prime(order: readonly string[]): void {
    const names: readonly string[] = order;
    if (!Array.isArray(order) || order.some((n) => typeof n !== 'string' || n.length === 0)) {
      throw new DepError('EINVAL', 'lockdep.prime(order): pass an array of class names, outermost first');
    }
    if (!this.enabled) return;
    const task = this.#rt.current;
    const pending: Pending[] = [];
    for (let i = 0; i + 1 < names.length; i++) {
      const from = this.classFor(names[i]!);
      const to = this.classFor(names[i + 1]!);
      const prev = new HeldEntry(from, from, true, 0, false, false);
      this.#addDependency(task, prev, to, 0, pending, 'primed at boot (dma_resv_lockdep)');
    }
    this.#emit(pending);
  }

  // --- inspection ---------------------------------------------------------------------------

  /** Every recorded dependency edge. */
  dependencies(): readonly LockDependency[] {
    const out: LockDependency[] = [];
    for (const base of this.#classes.values()) {
      for (const cls of [base, ...subclassesOf(base)]) {
        for (const e of cls.out.values()) out.push({ from: e.from, to: e.to, kinds: depKinds(e.bits), site: e.site });
      }
    }
    return out;
  }

  /** True if the graph has a path `from → … → to` (class names; subclasses as `name/N`). */
  dependsOn(from: string, to: string): boolean {
    const a = this.#lookup(from);
    const b = this.#lookup(to);
    if (a === undefined || b === undefined) return false;
    return this.#path(a, b, 'forward') !== null;
  }

  /**
   * Forget the graph and the irq usage of every class (`lockdep_reset`). Held locks of
   * tasks are kept: they describe locks that are really held.
   */
  reset(): void {
    this.#gen++;
    this.#chainRoot = new LockChain(this.#gen);
    for (const base of this.#classes.values()) {
      for (const cls of [base, ...subclassesOf(base)]) {
        cls.out.clear();
        cls.in.clear();
        cls.usage = 0;
        cls.usageSites.clear();
      }
    }
  }

  // --- internals ------------------------------------------------------------------------------

  #lookup(name: string): LockClass | undefined {
    const m = /^(.*)\/([1-7])$/.exec(name);
    if (m !== null) return this.#classes.get(m[1]!)?.sub(Number(m[2]));
    return this.#classes.get(name);
  }

  #holds(task: Task, lock: object): boolean {
    const held = task.held;
    for (let i = held.length - 1; i >= 0; i--) if (held[i]!.lock === lock) return true;
    return false;
  }

  #emit(pending: readonly Pending[]): void {
    for (const p of pending) this.#rt.reports.report('lockdep', p.message, p.details);
  }

  #site(task: Task, extra?: string): string {
    const frame = callerFrame();
    return `${task.toString()} [${task.context}] at ${this.#rt.now()}ms${extra !== undefined ? ` (${extra})` : ''}${frame !== undefined ? ` ${frame}` : ''}`;
  }

  #heldLines(task: Task): string[] {
    if (task.held.length === 0) return [`no locks held by ${task.toString()}`];
    return [`${task.held.length} lock(s) held by ${task.toString()}:`, ...task.held.map((h, i) => `  #${i}: ${h.className}${h.read ? ' (read)' : ''}${h.sleeping ? '' : ' (spinning)'}`)];
  }

  #recursiveReport(task: Task, prev: HeldEntry, next: HeldEntry): Pending {
    const same = prev.lock === next.lock;
    return {
      message: `possible recursive locking detected: ${task.toString()} is trying to acquire ${next.cls.name} but already holds ${same ? 'the same lock' : `another ${prev.cls.name} lock`}`,
      details: [
        `${task.toString()} is trying to acquire lock: ${next.cls.name} (${describeLock(next.lock)})`,
        `but task is already holding lock: ${prev.cls.name} (${describeLock(prev.lock)})`,
        same
          ? 'the same lock instance is taken twice: a deadlock (locks are not recursive)'
          : 'two locks of one class nested: if that is intended, take the inner one with a nesting subclass (lockNested) or under a nest lock',
        'Possible unsafe locking scenario:',
        `  CPU0: lock(${prev.cls.name}); lock(${next.cls.name});  *** DEADLOCK ***`,
        ...this.#heldLines(task),
      ],
    };
  }

  // usage ---------------------------------------------------------------------------------

  #markUsage(task: Task, h: HeldEntry, pending: Pending[]): void {
    const read = h.readMode !== 0;
    if (!h.trylock) {
      if (task.context === 'irq') this.#mark(task, h.cls, read ? USED_IN_HARDIRQ_READ : USED_IN_HARDIRQ, pending);
      else if (task.context === 'timer') this.#mark(task, h.cls, read ? USED_IN_SOFTIRQ_READ : USED_IN_SOFTIRQ, pending);
    }
    if (!h.irqsOff) this.#markEnabled(task, h, pending);
  }

  #markEnabled(task: Task, h: HeldEntry, pending: Pending[]): void {
    const read = h.readMode !== 0;
    this.#mark(task, h.cls, read ? ENABLED_HARDIRQ_READ : ENABLED_HARDIRQ, pending);
    // softirqs are enabled in process and worker context (irqsave disables both)
    if (task.context !== 'timer') this.#mark(task, h.cls, read ? ENABLED_SOFTIRQ_READ : ENABLED_SOFTIRQ, pending);
  }

  /** mark_lock + mark_lock_irq. */
  #mark(task: Task, cls: LockClass, bit: number, pending: Pending[]): void {
    if ((cls.usage & bit) !== 0) return;
    cls.usage |= bit;
    cls.usageSites.set(bit, this.#site(task));
    const k = irqKindOf(bit);
    const isRead = bit === k.usedInRead || bit === k.enabledRead;
    const isUsedIn = bit === k.usedIn || bit === k.usedInRead;
    // valid_state: this class must not have the exclusive usage
    const excl = isUsedIn ? k.enabled : k.usedIn;
    const conflicting = isRead ? excl : excl | (isUsedIn ? k.enabledRead : k.usedInRead);
    const clash = cls.usage & conflicting;
    if (clash !== 0) {
      const other = clash & excl ? excl : clash;
      pending.push({
        message: `inconsistent lock state: ${cls.name} is ${k.name}-safe and ${k.name}-unsafe: inconsistent {${USAGE_NAMES[other]}} -> {${USAGE_NAMES[bit]}} usage`,
        details: [
          `{${USAGE_NAMES[other]}} state was registered at: ${cls.usageSites.get(other) ?? '?'}`,
          `{${USAGE_NAMES[bit]}} now at: ${cls.usageSites.get(bit)}`,
          isUsedIn
            ? `${cls.name} is taken in ${k.name === 'HARDIRQ' ? 'irq' : 'timer (softirq)'} context, and elsewhere with ${k.name === 'HARDIRQ' ? 'irqs' : 'softirqs'} enabled`
            : `${cls.name} is taken in ${k.name === 'HARDIRQ' ? 'irq' : 'timer (softirq)'} context elsewhere, and here with ${k.name === 'HARDIRQ' ? 'irqs' : 'softirqs'} enabled`,
          'Possible unsafe locking scenario:',
          `  CPU0: lock(${cls.name}); <Interrupt> lock(${cls.name});  *** DEADLOCK ***`,
          `take it with lockIrqsave() outside ${k.name === 'HARDIRQ' ? 'irq' : 'timer'} context`,
          ...this.#heldLines(task),
        ],
      });
      return;
    }
    // the graph must not connect a safe class to an unsafe one
    if (isUsedIn) {
      const found = this.#findUsage(cls, 'forward', bit === k.usedIn ? k.enabled | k.enabledRead : k.enabled);
      if (found !== null) pending.push(this.#inversionReport(k, cls, found.cls, found.path, null, task, 'became'));
    } else {
      const found = this.#findUsage(cls, 'backward', bit === k.enabled ? k.usedIn | k.usedInRead : k.usedIn);
      if (found !== null) pending.push(this.#inversionReport(k, found.cls, cls, found.path, null, task, 'became'));
    }
  }

  /**
   * BFS from `start` (exclusive: its own usage is checked by valid_state) for a class with
   * `mask` usage; the path is returned in graph order (from → to).
   */
  #findUsage(start: LockClass, dir: 'forward' | 'backward', mask: number): { cls: LockClass; path: LockEdge[] } | null {
    const parent = new Map<LockClass, LockEdge | null>([[start, null]]);
    const queue: LockClass[] = [start];
    for (let qi = 0; qi < queue.length; qi++) {
      const c = queue[qi]!;
      const edges = dir === 'forward' ? c.out : c.in;
      for (const [n, e] of edges) {
        if (parent.has(n)) continue;
        parent.set(n, e);
        if ((n.usage & mask) !== 0) return { cls: n, path: unwind(parent, n, dir) };
        queue.push(n);
      }
    }
    return null;
  }

  #inversionReport(k: IrqKind, safe: LockClass, unsafe: LockClass, chain: readonly LockEdge[], added: LockEdge | null, task: Task, how: 'edge' | 'became'): Pending {
    const names = chain.length > 0 ? [chain[0]!.from.name, ...chain.map((e) => e.to.name)] : [safe.name, unsafe.name];
    const safeBit = safe.usage & k.usedIn ? k.usedIn : k.usedInRead;
    const unsafeBit = unsafe.usage & k.enabled ? k.enabled : k.enabledRead;
    const ctx = k.name === 'HARDIRQ' ? 'irq' : 'timer (softirq)';
    return {
      message:
        how === 'edge'
          ? `${k.name}-safe -> ${k.name}-unsafe lock order detected: ${safe.name} (${k.name}-safe) -> ${unsafe.name} (${k.name}-unsafe)`
          : `possible irq lock inversion dependency detected: ${k.name}-safe -> ${k.name}-unsafe lock order: ${safe.name} (${k.name}-safe) -> ${unsafe.name} (${k.name}-unsafe)`,
      details: [
        `dependency chain: ${names.join(' -> ')}`,
        ...chain.map((e) => `  ${e.from.name} -> ${e.to.name}: ${e === added ? 'new dependency, ' : ''}first seen ${e.site}`),
        `${safe.name} became ${k.name}-safe {${USAGE_NAMES[safeBit]}} at: ${safe.usageSites.get(safeBit) ?? '?'}`,
        `${unsafe.name} became ${k.name}-unsafe {${USAGE_NAMES[unsafeBit]}} at: ${unsafe.usageSites.get(unsafeBit) ?? '?'}`,
        'Possible interrupt unsafe locking scenario:',
        `  CPU0: lock(${unsafe.name});  CPU1: ${names.length > 2 ? `lock(${safe.name}) … ` : `lock(${safe.name}); `}lock(${unsafe.name}) (waits);  CPU0: <Interrupt> lock(${safe.name});  *** DEADLOCK ***`,
        `fix: take ${unsafe.name} with irqs disabled (lockIrqsave) everywhere, or do not take it under ${safe.name}`,
        `(${ctx} context takes ${safe.name})`,
        ...this.#heldLines(task),
      ],
    };
  }

  // graph -------------------------------------------------------------------------------------

  /**
   * check_prev_add: record `prev.cls → next` of the kind given by how `prev` is held and how
   * `next` is taken; a new edge is checked for cycles (strong paths) and irq inversion.
   */
  #addDependency(task: Task, prev: HeldEntry, next: LockClass, nextReadMode: 0 | 1 | 2, pending: Pending[], why?: string): void {
    const from = prev.cls;
    const bit = depBit(prev.readMode !== 0, nextReadMode === 2);
    const existing = from.out.get(next);
    if (existing !== undefined && (existing.bits & bit) !== 0) return;

    const cycle = this.#strongPath(next, from, nextReadMode === 2, prev.readMode === 0);
    let edge = existing;
    if (edge === undefined) {
      edge = { from, to: next, bits: bit, site: this.#site(task, why ?? `acquiring ${next.name} while holding ${from.name}`) };
      from.out.set(next, edge);
      next.in.set(from, edge);
    } else {
      edge.bits |= bit;
    }
    if (cycle !== null) {
      pending.push(this.#cycleReport(task, from, next, cycle, edge));
      return;
    }
    if (existing !== undefined) return;
    for (const k of [HARDIRQ, SOFTIRQ]) {
      const r = this.#checkIrqUsage(k, edge);
      if (r !== null) {
        pending.push(this.#inversionReport(k, r.safe, r.unsafe, r.chain, edge, task, 'edge'));
        return;
      }
    }
  }

  /**
   * check_noncircular: a strong path `start → … → target` in the graph, where a path may not
   * take a `-(Sx)->` edge right after a `-(xR)->` one. `startRecursive`: `start` is taken as a
   * recursive read (the new edge is `-(xR)->`). `targetExclusive`: `target` is held
   * exclusively (the new edge is `-(Ex)->`). Returns the path's edges or null.
   */
  #strongPath(start: LockClass, target: LockClass, startRecursive: boolean, targetExclusive: boolean): LockEdge[] | null {
    const conflict = (xr: boolean): boolean => targetExclusive || !xr;
    if (start === target) return conflict(startRecursive) ? [] : null;
    // states: (class, reached via -(xR)->)
    type State = { cls: LockClass; xr: boolean; via: LockEdge | null; parent: State | null };
    const seenN = new Set<LockClass>();
    const seenR = new Set<LockClass>();
    const queue: State[] = [{ cls: start, xr: startRecursive, via: null, parent: null }];
    (startRecursive ? seenR : seenN).add(start);
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const allowed = s.xr ? DEP_FROM_EXCLUSIVE : DEP_FROM_EXCLUSIVE | DEP_SN | DEP_SR;
      for (const [n, e] of s.cls.out) {
        const bits = e.bits & allowed;
        if (bits === 0) continue;
        // prefer -(xN)-> (it constrains less), then -(xR)->
        for (const xr of [false, true]) {
          if ((bits & (xr ? DEP_TO_RECURSIVE : DEP_TO_NONRECURSIVE)) === 0) continue;
          const st: State = { cls: n, xr, via: e, parent: s };
          if (n === target && conflict(xr)) {
            const path: LockEdge[] = [];
            for (let p: State | null = st; p !== null && p.via !== null; p = p.parent) path.push(p.via);
            return path.reverse();
          }
          const seen = xr ? seenR : seenN;
          if (seen.has(n)) continue;
          seen.add(n);
          queue.push(st);
        }
      }
    }
    return null;
  }

  /** check_irq_usage for a new edge: a safe class reaching `edge.from`, an unsafe one reached from `edge.to`. */
  #checkIrqUsage(k: IrqKind, edge: LockEdge): { safe: LockClass; unsafe: LockClass; chain: LockEdge[] } | null {
    // backwards from prev: every class that reaches it (incl. prev)
    const back = new Map<LockClass, LockEdge | null>([[edge.from, null]]);
    const bq: LockClass[] = [edge.from];
    let safeMask = 0;
    for (let qi = 0; qi < bq.length; qi++) {
      const c = bq[qi]!;
      safeMask |= c.usage & (k.usedIn | k.usedInRead);
      for (const [n, e] of c.in) {
        if (back.has(n)) continue;
        back.set(n, e);
        bq.push(n);
      }
    }
    if (safeMask === 0) return null;
    const unsafeMask = safeMask & k.usedIn ? k.enabled | k.enabledRead : k.enabled;
    // forwards from next (incl. next)
    const fwd = new Map<LockClass, LockEdge | null>([[edge.to, null]]);
    const fq: LockClass[] = [edge.to];
    let unsafe: LockClass | null = null;
    for (let qi = 0; qi < fq.length && unsafe === null; qi++) {
      const c = fq[qi]!;
      if ((c.usage & unsafeMask) !== 0) {
        unsafe = c;
        break;
      }
      for (const [n, e] of c.out) {
        if (fwd.has(n)) continue;
        fwd.set(n, e);
        fq.push(n);
      }
    }
    if (unsafe === null) return null;
    const unsafeBits = unsafe.usage & unsafeMask;
    const safeNeed = unsafeBits & k.enabled ? k.usedIn | k.usedInRead : k.usedIn;
    let safe: LockClass | null = null;
    for (const c of bq) {
      if ((c.usage & safeNeed) !== 0) {
        safe = c;
        break;
      }
    }
    if (safe === null) return null;
    const chain = [...unwind(back, safe, 'backward'), edge, ...unwind(fwd, unsafe, 'forward')];
    return { safe, unsafe, chain };
  }

  /** A path by BFS ignoring dependency kinds (for {@link dependsOn}). */
  #path(from: LockClass, to: LockClass, dir: 'forward'): LockEdge[] | null {
    const parent = new Map<LockClass, LockEdge | null>([[from, null]]);
    const queue: LockClass[] = [from];
    for (let qi = 0; qi < queue.length; qi++) {
      const c = queue[qi]!;
      for (const [n, e] of c.out) {
        if (parent.has(n)) continue;
        parent.set(n, e);
        if (n === to) return unwind(parent, n, dir);
        queue.push(n);
      }
    }
    return null;
  }

  #cycleReport(task: Task, held: LockClass, next: LockClass, existing: readonly LockEdge[], added: LockEdge): Pending {
    const chain = existing.length > 0 ? [existing[0]!.from.name, ...existing.map((e) => e.to.name)] : [next.name];
    const last = existing.length > 0 ? existing[existing.length - 1]!.from.name : next.name;
    return {
      message: `possible circular locking dependency detected: ${task.toString()} is trying to acquire ${next.name} while holding ${held.name}, but ${chain.join(' -> ')} already exists`,
      details: [
        `${task.toString()} is trying to acquire lock: ${next.name}`,
        `but task is already holding lock: ${held.name}`,
        'which lock already depends on the new lock.',
        `the existing dependency chain: ${chain.join(' -> ')}`,
        ...existing.map((e) => `  ${e.from.name} -> ${e.to.name}: first seen ${e.site}`),
        `the new dependency: ${held.name} -> ${next.name}: ${added.site}`,
        'Possible unsafe locking scenario:',
        existing.length <= 1
          ? `  CPU0: lock(${held.name});  CPU1: lock(${next.name});  CPU1: lock(${held.name});  CPU0: lock(${next.name});  *** DEADLOCK ***`
          : `  CPU0: lock(${held.name});  CPU1: lock(${last});  CPU1: lock(${held.name});  CPU0: lock(${next.name}) … -> ${last};  *** DEADLOCK ***`,
        ...this.#heldLines(task),
      ],
    };
  }
}

/** True if `lock` (the instance) is on `held`. */
function holdsInstance(held: readonly HeldLock[], lock: object): boolean {
  for (let i = held.length - 1; i >= 0; i--) if (held[i]!.lock === lock) return true;
  return false;
}

/** The BFS path to `end`, in graph order (each edge's `to` is the next edge's `from`). */
function unwind(parent: Map<LockClass, LockEdge | null>, end: LockClass, dir: 'forward' | 'backward'): LockEdge[] {
  const path: LockEdge[] = [];
  for (let c: LockClass = end; ; ) {
    const e = parent.get(c);
    if (e === undefined || e === null) break;
    path.push(e);
    c = dir === 'forward' ? e.from : e.to;
  }
  return dir === 'forward' ? path.reverse() : path;
}

function subclassesOf(base: LockClass): LockClass[] {
  return base.subclasses();
}

function describeLock(lock: object): string {
  const n = (lock as { name?: unknown }).name;
  const ctor = (lock as { constructor?: { name?: string } }).constructor?.name;
  if (typeof n === 'string') return ctor !== undefined && ctor !== 'Object' ? `${ctor} ${n}` : n;
  return ctor ?? 'lock';
}

function callerFrame(): string | undefined {
  const stack = new Error().stack;
  if (stack === undefined) return undefined;
  const lines = stack.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (!l.startsWith('at ')) continue;
    if (INTERNAL_FRAME.test(l)) continue;
    return l;
  }
  return undefined;
}
