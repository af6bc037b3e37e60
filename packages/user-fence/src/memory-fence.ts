/**
 * Memory → dma-fence: a fence that signals when a 64-bit location reaches a value (Xe's
 * convert IOCTL, export direction; amdgpu's user-queue fences over seq64 — rfc-designs C.2,
 * C.3), with the user-fence TDR that bounds such fences and kills the VM.
 */
import { DepError, GFP_KERNEL, Timer, getDefaultRuntime, type IosysMap, type Runtime } from '@dep/kernel';
import { DmaFence, U64_MAX, beginSignalling, contextAlloc, endSignalling, type DmaFenceOps, type Fence, type FenceInitOptions } from '@dep/dma-fence';
import { AtomicsWaiter, type AtomicsWakeOptions } from './atomics-waiter.js';
import { resolveSlot, type Slot } from './slot.js';

/** Default user-fence deadline: 5 s, as Xe's user-fence TDR. */
export const USER_FENCE_TIMEOUT = 5000;
/** Default polling interval (ms) while a memory fence is waited on and no notify came. */
export const USER_FENCE_POLL_INTERVAL = 10;

const ETIME = -62;
const ECANCELED = -125;

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** The user-fence TDR fired: `fences` got -ETIME; the VM is killed. */
    'user_fence:tdr': { tdr: string; context: bigint; seqno: bigint; fences: number };
  }
}

/** What the kill hook of a {@link UserFenceTdr} is told. */
export interface UserFenceKill {
  /** The TDR that fired. */
  readonly tdr: UserFenceTdr;
  /** The fence whose deadline expired first. */
  readonly fence: Fence;
  /** How many unsignalled fences of the VM were signalled with -ETIME. */
  readonly fences: number;
  /** Runtime time (ms) of the expiry. */
  readonly time: number;
}

/** Options of a {@link UserFenceTdr}. */
export interface UserFenceTdrOptions {
  /** Default `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** Name in reports and traces. Default `'user-fence-tdr'`. */
  readonly name?: string;
  /** Deadline of every exported fence, ms from its creation. Default 5000; `Infinity` disables the TDR. */
  readonly timeout?: number;
  /**
   * The VM kill: runs once, in a worker-context task spawned after the expiry — never in
   * the signalling path, because the locks a VM kill needs cannot be taken there. May be
   * async.
   */
  readonly kill?: (info: UserFenceKill) => void | Promise<void>;
}

let tdrExpire: (tdr: UserFenceTdr, f: MemoryFence) => void;
let tdrRegister: (tdr: UserFenceTdr, d: MemoryFenceDriver, add: boolean) => void;

/**
 * The user-fence TDR of one VM (Xe, rfc-designs C.2): every memory fence of the VM's
 * drivers gets a deadline (default 5 s from creation). When one expires — in timer
 * context, inside the signalling annotation — **every** unsignalled fence of the VM is
 * signalled with -ETIME (exported fences are not tied to one queue, so the whole VM is
 * guilty), and the kill hook runs once, later, in a worker-context task. A killed VM's
 * drivers refuse new fences (ECANCELED).
 */
export class UserFenceTdr {
  /** The runtime it belongs to. */
  readonly runtime: Runtime;
  /** Name in traces and the kill task's name. */
  readonly name: string;
  /** Deadline of every fence, ms from its creation (`Infinity`: no TDR). */
  readonly timeout: number;
  readonly #kill: ((info: UserFenceKill) => void | Promise<void>) | null;
  readonly #drivers = new Set<MemoryFenceDriver>();
  #killed: UserFenceKill | null = null;

  static {
    tdrExpire = (tdr, f) => { tdr.#expire(f); };
    tdrRegister = (tdr, d, add) => {
      if (add) tdr.#drivers.add(d);
      else tdr.#drivers.delete(d);
    };
  }

  /** EINVAL for a bad timeout (not a positive number) or a kill hook that is not a function. */
  constructor(options: UserFenceTdrOptions = {}) {
    const timeout = options.timeout ?? USER_FENCE_TIMEOUT;
    if (typeof timeout !== 'number' || !(timeout > 0)) {
      throw new DepError('EINVAL', `new UserFenceTdr: timeout must be a positive number of ms (Infinity disables the TDR), got ${String(timeout)}`);
    }
    if (options.kill !== undefined && typeof options.kill !== 'function') {
      throw new DepError('EINVAL', 'new UserFenceTdr: kill must be a function (info) => void | Promise<void>');
    }
    this.runtime = options.runtime ?? getDefaultRuntime();
    this.name = options.name ?? 'user-fence-tdr';
    this.timeout = timeout;
    this.#kill = options.kill ?? null;
  }

  /** Set once the TDR fired: what it killed. Null while the VM lives. */
  get killed(): UserFenceKill | null {
    return this.#killed;
  }

  #expire(f: MemoryFence): void {
    if (f.testSignaledFlag() || this.#killed !== null) return;
    const rt = this.runtime;
    let n = 0;
    const cookie = beginSignalling(rt);
    try {
      for (const d of [...this.#drivers]) n += d._expireAll(ETIME);
    } finally {
      endSignalling(cookie, rt);
    }
    const info: UserFenceKill = { tdr: this, fence: f, fences: n, time: rt.now() };
    this.#killed = info;
    if (rt.trace.enabled) rt.trace.emit('user_fence:tdr', { tdr: this.name, context: f.context, seqno: f.seqno, fences: n });
    const kill = this.#kill;
    if (kill !== null) rt.spawn(`${this.name}:kill`, () => kill(info), { context: 'worker' });
  }
}

/** Options of a {@link MemoryFenceDriver}. */
export interface MemoryFenceDriverOptions {
  /** Default: the TDR's runtime, else `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** Timeline name of its fences (reports print `driver:timeline context:seqno`). Default `'user-fence'`. */
  readonly name?: string;
  /** Driver name of its fences. Default `'user_fence'`. */
  readonly driverName?: string;
  /** The VM's TDR (share one among a VM's drivers). Default: a TDR of its own, 5 s, no kill hook. */
  readonly tdr?: UserFenceTdr;
  /**
   * Polling fallback: while a fence is waited on (signalling enabled) and unsignalled, read
   * the location every `poll` ms. Default 10; `null` disables polling (notify only).
   */
  readonly poll?: number | null;
  /**
   * Cross-thread wake-up: the location is in a `SharedArrayBuffer` written by another thread
   * (a worker-thread user-mode driver); while a fence is waited on, the driver sleeps in
   * `Atomics.waitAsync` on it and processes when it changes. Use a real-time runtime.
   */
  readonly atomics?: AtomicsWakeOptions;
}

/** The driver whose fence is being constructed (the init trace event asks for the names before `driver` is set). */
let constructing: MemoryFenceDriver | null = null;

/** @internal A memory fence: a dma-fence whose seqno is the value its location must reach. */
class MemoryFence extends DmaFence {
  declare readonly driver: MemoryFenceDriver;
  /** Signalling enabled and counted by the driver. */
  declare enabled: boolean;
  declare deadline: FenceDeadline | null;

  constructor(driver: MemoryFenceDriver, context: bigint, value: bigint, init: FenceInitOptions) {
    constructing = driver;
    try {
      super(memoryFenceOps, context, value, init);
    } finally {
      constructing = null;
    }
    this.driver = driver;
    this.enabled = false;
    this.deadline = null;
  }
}

function driverOf(f: MemoryFence): MemoryFenceDriver {
  return f.driver ?? constructing!;
}

class FenceDeadline extends Timer {
  readonly fence: MemoryFence;
  constructor(rt: Runtime, fence: MemoryFence) {
    super(rt, expireDeadline, 'user-fence-tdr');
    this.fence = fence;
  }
}

function expireDeadline(t: Timer): void {
  const f = (t as FenceDeadline).fence;
  f.deadline = null;
  tdrExpire(f.driver.tdr, f);
}

const memoryFenceOps: DmaFenceOps<MemoryFence> = {
  getDriverName: (f) => driverOf(f).driverName,
  getTimelineName: (f) => driverOf(f).name,
  enableSignaling: (f) => f.driver._enable(f),
  signaled: (f) => f.driver._peek(f),
};

function irqProcess(d: MemoryFenceDriver): void {
  d._irq();
}

/**
 * The fence driver of one 64-bit location (amdgpu's `amdgpu_userq_fence_driver` over a
 * seq64 slot; Xe's semaphore fences of the convert IOCTL): one fence context, and fences
 * that signal when the location's value reaches theirs (`value >= seqno`, 64-bit compare:
 * a write of N completes every point ≤ N).
 *
 * Completion is found three ways, as in amdgpu: {@link MemoryFenceDriver.notify} (the user
 * interrupt: an in-order walk in irq context that stops at the first unreached fence), the
 * fence's `signaled` op (`isSignaled()` reads the location), and — while someone waits —
 * polling every `poll` ms, or `Atomics.waitAsync` when another thread writes the memory.
 * Every fence has a TDR deadline ({@link UserFenceTdr}); {@link MemoryFenceDriver.fini}
 * signals whatever is left with -ECANCELED.
 */
export class MemoryFenceDriver {
  /** The runtime it belongs to. */
  readonly runtime: Runtime;
  /** Timeline name of its fences. */
  readonly name: string;
  /** Driver name of its fences. */
  readonly driverName: string;
  /** The fence context of this location. */
  readonly context: bigint;
  /** The VM's user-fence TDR its fences are bounded by. */
  readonly tdr: UserFenceTdr;
  /** The map holding the location. */
  readonly map: IosysMap;
  /** Offset of the location in {@link MemoryFenceDriver.map}. */
  readonly offset: number;
  readonly #slot: Slot;
  readonly #poll: number | null;
  /** Unsignalled fences, ascending seqno. */
  readonly #pending: MemoryFence[] = [];
  #enabled = 0;
  #pollTimer: Timer | null = null;
  #irqQueued = false;
  #dead = false;
  readonly #waiter: AtomicsWaiter | null;
  /** Init options of its fences (one object, so fence creation allocates none). */
  readonly #init: FenceInitOptions;

  /**
   * Fences over the 64-bit location at `offset` of `map` (8-byte aligned; the map may be
   * read-only: the driver only reads). EINVAL / EFAULT for a bad location or option,
   * ENOSYS for `atomics` where `Atomics.waitAsync` is missing.
   */
  constructor(map: IosysMap, offset: number, options: MemoryFenceDriverOptions = {}) {
    const who = 'new MemoryFenceDriver';
    const slot = resolveSlot(map, offset, who, false);
    const poll = options.poll === undefined ? USER_FENCE_POLL_INTERVAL : options.poll;
    if (poll !== null && (typeof poll !== 'number' || !(poll > 0) || poll === Infinity)) {
      throw new DepError('EINVAL', `${who}: poll must be a positive finite number of ms, or null for notify-only, got ${String(poll)}`);
    }
    if (options.tdr !== undefined && !(options.tdr instanceof UserFenceTdr)) {
      throw new DepError('EINVAL', `${who}: tdr must be a UserFenceTdr (one per VM)`);
    }
    const rt = options.runtime ?? options.tdr?.runtime ?? getDefaultRuntime();
    if (options.tdr !== undefined && options.tdr.runtime !== rt) {
      throw new DepError('EINVAL', `${who}: the TDR belongs to runtime ${options.tdr.runtime.name}, the driver to ${rt.name}; use one runtime`);
    }
    for (const [k, v] of [['name', options.name], ['driverName', options.driverName]] as const) {
      if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw new DepError('EINVAL', `${who}: ${k} must be a non-empty string`);
    }
    const waiter = options.atomics === undefined ? null : new AtomicsWaiter(this, rt, slot, options.atomics, who);
    this.runtime = rt;
    this.name = options.name ?? 'user-fence';
    this.driverName = options.driverName ?? 'user_fence';
    this.tdr = options.tdr ?? new UserFenceTdr({ runtime: rt });
    this.map = map;
    this.offset = offset;
    this.#slot = slot;
    this.#poll = poll;
    this.#waiter = waiter;
    this.context = contextAlloc(1, rt);
    this.#init = Object.freeze({ runtime: rt, seqno64: true });
    tdrRegister(this.tdr, this, true);
  }

  /** The location's current value (an atomic 64-bit load). */
  read(): bigint {
    return Atomics.load(this.#slot.view, this.#slot.index);
  }

  /** Unsignalled fences. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Unsignalled fences someone waits on (signalling enabled): polling / the atomics wait run while > 0. */
  get waited(): number {
    return this.#enabled;
  }

  /** True after {@link MemoryFenceDriver.fini}. */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * A fence that signals once the location reaches `value` (the convert / signal IOCTL).
   * If it already has, the fence is returned signalled. Allocates (`GFP_KERNEL`, site
   * `user_fence_create`: ENOMEM under fault injection, nothing changed); EINVAL for a
   * value that is not a u64 bigint; ECANCELED once the VM's TDR killed it; ENODEV after
   * {@link MemoryFenceDriver.fini}. Process context (an ioctl), not a signalling path.
   */
  createFence(value: bigint): Fence {
    const who = 'user fence create';
    if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
      throw new DepError('EINVAL', `${who}: value must be a u64 bigint (the seqno the location must reach), got ${typeof value === 'bigint' ? `${value}n` : typeof value}`);
    }
    if (this.#dead) throw new DepError('ENODEV', `${who}: fence driver ${this.name} was torn down (fini); make a new one`);
    if (this.tdr.killed !== null) {
      throw new DepError('ECANCELED', `${who}: the VM of ${this.name} was killed by its user-fence TDR at ${this.tdr.killed.time}ms; create a new VM`);
    }
    const rt = this.runtime;
    rt.alloc(GFP_KERNEL, 'user_fence_create');
    const f = new MemoryFence(this, this.context, value, this.#init);
    if (this.read() >= value) {
      f.signal();
      return f.publish();
    }
    const pending = this.#pending;
    let i = pending.length;
    while (i > 0 && pending[i - 1]!.seqno > value) i--;
    if (i === pending.length) pending.push(f);
    else pending.splice(i, 0, f);
    if (this.tdr.timeout !== Infinity) {
      f.deadline = new FenceDeadline(rt, f);
      f.deadline.mod(this.tdr.timeout);
    }
    return f.publish();
  }

  /**
   * The user interrupt (`amdgpu_userq_fence_driver_process` from the IRQ, Xe's user-fence
   * interrupt): walk the fences in irq context at this instant. Coalesced: several notifies
   * before the walk runs make one walk. Any context.
   */
  notify(): void {
    if (this.#irqQueued) return;
    this.#irqQueued = true;
    this.runtime.queueIrq(irqProcess, this);
  }

  /**
   * Walk now: signal, in seqno order, every fence the location has reached; stop at the
   * first it has not. Returns how many signalled. Any context.
   */
  process(): number {
    const pending = this.#pending;
    if (pending.length === 0) return 0;
    const cur = this.read();
    let n = 0;
    while (pending.length > 0) {
      const f = pending[0]!;
      if (f.seqno > cur && !f.testSignaledFlag()) break;
      this.#retire(f, 0);
      if (!f.testSignaledFlag()) f.signal();
      n++;
    }
    return n;
  }

  /**
   * Teardown (`amdgpu_userq_fence_driver_free`): every unsignalled fence gets -ECANCELED
   * and signals; the driver leaves its TDR and refuses new fences (ENODEV). Idempotent.
   */
  fini(): void {
    if (this.#dead) return;
    this.#dead = true;
    const rt = this.runtime;
    const cookie = beginSignalling(rt);
    try {
      this._expireAll(ECANCELED);
    } finally {
      endSignalling(cookie, rt);
      tdrRegister(this.tdr, this, false);
      this.#waiter?.close();
    }
  }

  // --- internals -------------------------------------------------------------------------

  /** @internal The irq_work body. */
  _irq(): void {
    this.#irqQueued = false;
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('irq:irq_handler_entry', { name: `${this.driverName}:${this.name}` });
    this.process();
    this.#waiter?.poke();
  }

  /** @internal `enable_signaling`, under the fence lock: start watching, or signal if already reached. */
  _enable(fence: DmaFence): boolean {
    const f = fence as MemoryFence;
    if (f.seqno <= this.read()) {
      this.#retire(f, 0);
      return false; // the core signals it
    }
    if (!f.enabled && this.#pending.includes(f)) {
      f.enabled = true;
      if (++this.#enabled === 1) this.#watch(true);
    }
    return true;
  }

  /** @internal The `signaled` op: read the location (polling, amdgpu's `signaled`). */
  _peek(fence: DmaFence): boolean {
    const f = fence as MemoryFence;
    if (f.seqno > this.read()) return false;
    this.#retire(f, 0);
    return true;
  }

  /** @internal Signal every pending fence with `error` (TDR, teardown); returns how many. */
  _expireAll(error: number): number {
    const pending = this.#pending;
    let n = 0;
    while (pending.length > 0) {
      const f = pending[0]!;
      this.#retire(f, 0);
      if (f.testSignaledFlag()) continue;
      f.setError(error);
      f.signal();
      n++;
    }
    return n;
  }

  /** @internal Lowest pending seqno that someone waits for, or null (for the atomics waiter). */
  _head(): bigint | null {
    return this.#pending.length === 0 ? null : this.#pending[0]!.seqno;
  }

  /** Off the pending list, deadline disarmed, no longer counted as waited on. */
  #retire(f: MemoryFence, hint: number): void {
    const pending = this.#pending;
    const i = pending[hint] === f ? hint : pending.indexOf(f);
    if (i === 0) pending.shift();
    else if (i > 0) pending.splice(i, 1);
    if (f.deadline !== null) {
      f.deadline.del();
      f.deadline = null;
    }
    if (f.enabled) {
      f.enabled = false;
      if (--this.#enabled === 0) this.#watch(false);
    }
  }

  #watch(on: boolean): void {
    const poll = this.#poll;
    if (poll !== null) {
      if (on) (this.#pollTimer ??= new Timer(this.runtime, () => { this.#pollTick(); }, `${this.name}:poll`)).mod(poll);
      else this.#pollTimer?.del();
    }
    if (this.#waiter !== null) {
      if (on) this.#waiter.arm();
      else this.#waiter.disarm();
    }
  }

  #pollTick(): void {
    this.process();
    if (this.#enabled > 0 && this.#poll !== null) this.#pollTimer!.mod(this.#poll);
  }
}
