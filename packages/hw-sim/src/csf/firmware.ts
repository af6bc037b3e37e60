import type { ExecEvent } from '@dep/kernel';
import { isCommandRing } from '../commands.js';
import type { Engine, EngineClass } from '../engine.js';
import { ENGINE_CLASSES } from '../engine.js';
import { HwContext } from '../hw-context.js';
import type { DeviceMemory } from '../memory/device-memory.js';
import { checkAddr, checkInt, checkName, checkOneOf, checkOptions, fail } from '../validate.js';
import type { CsfDevice } from './device.js';
import { CsfGroup, CsfQueue } from './group.js';
import { CSF_PRIORITIES, CSF_SYNC_SIZE, CSF_SYNC_STATUS_FAULT, CSF_SYNC_STATUS_OFFSET, type CsfFaultReason, type CsfGroupDesc, type CsfPriority, type CsfQueueDesc } from './types.js';

/** Resolved CSF timings (defaults filled in). */
export interface CsfTimings {
  readonly slots: number;
  readonly maxQueuesPerGroup: number;
  readonly tickMs: number;
  readonly suspendLatencyMs: number;
  readonly resumeLatencyMs: number;
  readonly suspendTimeoutMs: number;
}

const PRIO_RANK: Readonly<Record<CsfPriority, number>> = { low: 0, medium: 1, high: 2, realtime: 3 };

/**
 * The CSF-like firmware and its group scheduler (panthor). M group slots; groups with work
 * compete for them on a tick (10 ms by default): higher priority first, then round-robin
 * (a group that was resident through a tick goes behind the others of its priority), so
 * with more groups than slots they rotate. A real-time group that gets work evicts the
 * lowest non-real-time resident group at once. Eviction saves each running queue (suspend
 * latency); a save that never finishes (a hung queue) escalates to termination after
 * `suspendTimeoutMs`. The tick runs only while groups wait for slots.
 *
 * Completion is memory: each queue's `seqnoWrite` updates its sync object and raises a
 * `sync-update` interrupt (coalesced per instant); a fatal queue fault writes a non-zero
 * status into the sync object and terminates the group (`group-fault`).
 *
 * In panthor the tick lives in the kernel driver; here it is part of the simulated
 * firmware so adapters stay thin (ADR 0105). `tick()` runs it on demand.
 */
export class CsfFirmware {
  readonly #dev: CsfDevice;
  readonly #t: CsfTimings;
  readonly #slots: Array<CsfGroup | null>;
  readonly #groups: CsfGroup[] = [];
  #nextId = 1;
  #rr = 0;
  #tickEv: ExecEvent | null = null;
  #kickEv: ExecEvent | null = null;
  #lastTick = -Infinity;
  #syncPending = new Set<number>();
  #syncEv: ExecEvent | null = null;
  /** Periodic ticks run so far. */
  ticks = 0;

  /** Made by {@link CsfDevice}. (Not for drivers.) */
  constructor(dev: CsfDevice, t: CsfTimings) {
    this.#dev = dev;
    this.#t = t;
    this.#slots = new Array<CsfGroup | null>(t.slots).fill(null);
  }

  /** @internal */
  get memory(): DeviceMemory {
    return this.#dev.memory;
  }

  /** @internal */
  now(): number {
    return this.#dev.rt.now();
  }

  /** The timings in force. */
  get timings(): CsfTimings {
    return this.#t;
  }

  /** Group in each slot (null: free). */
  get slots(): ReadonlyArray<CsfGroup | null> {
    return this.#slots;
  }

  /** Groups not terminated, in creation order. */
  get groups(): readonly CsfGroup[] {
    return this.#groups.filter((g) => g.st !== 'terminated');
  }

  /**
   * Create a group (no firmware round trip until it is scheduled). EINVAL for a bad
   * descriptor (queue count, ring, unmapped or misaligned sync object).
   */
  createGroup(desc: CsfGroupDesc): CsfGroup {
    this.#dev.checkAlive('createGroup');
    checkOptions('group descriptor', desc);
    const priority = desc.priority === undefined ? 'medium' : checkOneOf('priority', desc.priority, CSF_PRIORITIES);
    const queues: readonly CsfQueueDesc[] = desc.queues;
    const isArray: boolean = Array.isArray(queues);
    if (!isArray || queues.length < 1 || queues.length > this.#t.maxQueuesPerGroup) {
      fail('EINVAL', `a group needs 1..${this.#t.maxQueuesPerGroup} queues, got ${isArray ? queues.length : typeof queues}`);
    }
    const rings = new Set<unknown>();
    const specs = queues.map((q, i) => {
      checkOptions(`queues[${i}]`, q);
      if (!isCommandRing(q.ring)) fail('EINVAL', `queues[${i}].ring must come from createCommandRing(dwords)`);
      if (rings.has(q.ring) || this.#ringInUse(q.ring)) fail('EBUSY', `queues[${i}].ring is already used by another queue; give each queue its own ring`);
      rings.add(q.ring);
      const syncAddr = checkAddr(`queues[${i}].syncAddr`, q.syncAddr, 8);
      if (this.#dev.memory.resolve(syncAddr, CSF_SYNC_SIZE) === null) fail('EINVAL', `queues[${i}].syncAddr 0x${syncAddr.toString(16)} is not inside a live buffer (${CSF_SYNC_SIZE} bytes needed); allocate the sync object first`);
      const cls: EngineClass = q.engineClass === undefined ? 'compute' : checkOneOf(`queues[${i}].engineClass`, q.engineClass, ENGINE_CLASSES);
      return { ring: q.ring, syncAddr, cls };
    });
    const id = this.#nextId;
    const name = desc.name === undefined ? `csg${id}` : checkName('group name', desc.name);
    this.#nextId++;
    const g = new CsfGroup(this, id, name, priority, (grp) =>
      specs.map((s, i) => {
        const q = new CsfQueue(grp, i, s.ring, s.syncAddr, s.cls);
        q.hw = new HwContext(id * 64 + i, `${name}.q${i}`, s.cls, s.ring, this, q);
        return q;
      }),
    );
    this.#groups.push(g);
    return g;
  }

  /** Run the scheduler now (panthor's immediate tick); does not rotate. */
  tick(): void {
    this.#dev.checkAlive('tick');
    this.#tick(false);
  }

  /** Suspend every group (PM suspend). Sleeps until all are off their slots. */
  async suspendAll(): Promise<void> {
    this.#dev.checkAlive('suspendAll');
    await Promise.all(this.groups.map((g) => this.suspendGroup(g)));
  }

  /** Resume every suspended group. */
  resumeAll(): void {
    this.#dev.checkAlive('resumeAll');
    for (const g of this.groups) if (g.userSuspended) this.resumeGroup(g);
  }

  /** @internal */
  doorbell(g: CsfGroup, qi: number): void {
    this.#dev.checkAlive('doorbell');
    checkInt('queue index', qi, 0, g.queues.length - 1);
    if (g.st === 'terminated') fail('ECANCELED', `group ${g.name} was terminated; create a new group`);
    const q = g.queues[qi]!;
    const hw = q.hw;
    hw.hwTail = q.ring.wptr;
    const rt = this.#dev.rt;
    if (rt.trace.enabled) rt.trace.emit('hw:doorbell', { dev: this.#dev.name, ctx: hw.name, tail: hw.hwTail }, { lane: `${this.#dev.name}:fw` });
    if (g.phase === 'resident') this.#startQueue(q);
    else if (g.phase === 'off') this.#wantSlot(g);
  }

  /** @internal */
  async suspendGroup(g: CsfGroup): Promise<void> {
    this.#dev.checkAlive('suspend');
    if (g.st === 'terminated') fail('ECANCELED', `group ${g.name} was terminated`);
    g.userSuspended = true;
    if (g.phase === 'off') return;
    if (g.phase === 'resident') this.#evict(g);
    await this.#dev.rt.sleepOn<null>(`csg ${g.name} suspend`, (w) => { g.waiters.push(w); });
    this.#dev.checkAlive('suspend');
  }

  /** @internal */
  resumeGroup(g: CsfGroup): void {
    this.#dev.checkAlive('resume');
    if (g.st === 'terminated') fail('ECANCELED', `group ${g.name} was terminated`);
    if (!g.userSuspended) return;
    g.userSuspended = false;
    if (g.phase === 'off') this.#wantSlot(g);
  }

  /** @internal Stop a group for good. `reason` null: asked by the host. */
  terminate(g: CsfGroup, reason: { mask: number; why: CsfFaultReason } | null): void {
    if (g.st === 'terminated') return;
    const dev = this.#dev;
    for (const q of g.queues) {
      dev.cs.kill(q.hw);
      q.hw.state = 'error';
    }
    if (g.timeoutEv !== null) dev.cancel(g.timeoutEv);
    g.timeoutEv = null;
    if (g.phase === 'resident') g.residentAccum += dev.rt.now() - g.residentSince;
    const slot = g.slotNo;
    if (slot !== null) this.#slots[slot] = null;
    g.slotNo = null;
    g.phase = 'off';
    g.st = 'terminated';
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:csg', { dev: dev.name, group: g.id, slot: slot ?? undefined, op: 'terminate', priority: g.priority }, { lane: `${dev.name}:fw` });
    for (const w of g.waiters.splice(0)) w.wake(null);
    if (reason !== null) dev.irq.raise({ kind: 'group-fault', group: g.id, queueMask: reason.mask, reason: reason.why }, g.name);
    if (!dev.lost) this.#placePending();
    this.#armTick();
  }

  /** @internal */
  onLost(): void {
    for (const g of this.#groups) for (const w of g.waiters.splice(0)) w.wake(null);
  }

  // --- StreamOwner -------------------------------------------------------------------------

  /** @internal StreamOwner. */
  ctxIdle(ctx: HwContext): void {
    const g = (ctx.fw as CsfQueue).group;
    if (!this.#hasWork(g) && this.#someoneWaits()) this.#kick();
    else this.#armTick();
  }

  /** @internal StreamOwner. */
  ctxBlocked(ctx: HwContext): void {
    this.ctxIdle(ctx);
  }

  /** @internal StreamOwner. */
  ctxReleased(ctx: HwContext): void {
    const q = ctx.fw as CsfQueue;
    if (q.group.phase === 'resident') this.#startQueue(q);
    else if (q.group.phase === 'off') this.#wantSlot(q.group);
  }

  /** @internal StreamOwner. */
  ctxFault(ctx: HwContext, kind: 'page-fault'): void {
    const q = ctx.fw as CsfQueue;
    const mem = this.#dev.memory;
    if (mem.resolve(q.syncAddr + CSF_SYNC_STATUS_OFFSET, 4) !== null) {
      mem.write32(q.syncAddr + CSF_SYNC_STATUS_OFFSET, CSF_SYNC_STATUS_FAULT);
      this.#syncUpdate(q.group);
    }
    this.terminate(q.group, { mask: 1 << q.index, why: kind });
  }

  /** @internal StreamOwner. */
  userInterrupt(ctx: HwContext, data: number): void {
    const q = ctx.fw as CsfQueue;
    this.#dev.irq.raise({ kind: 'user-interrupt', group: q.group.id, queue: q.index, data }, ctx.name);
  }

  /** @internal StreamOwner. */
  seqnoWritten(ctx: HwContext): void {
    this.#syncUpdate((ctx.fw as CsfQueue).group);
  }

  // --- the scheduler ---------------------------------------------------------------------

  /** @internal */
  runTick(periodic: boolean): void {
    if (periodic) this.#tickEv = null;
    else this.#kickEv = null;
    if (this.#dev.lost) return;
    this.#tick(periodic);
  }

  #tick(periodic: boolean): void {
    const dev = this.#dev;
    this.#lastTick = dev.rt.now();
    if (periodic) {
      this.ticks++;
      for (const g of this.#slots) if (g !== null && g.phase === 'resident') g.rrSeq = ++this.#rr;
    }
    const want = this.#ordered(this.#groups.filter((g) => this.#schedulable(g)));
    const chosen = new Set(want.slice(0, this.#t.slots));
    const incoming = want.slice(0, this.#t.slots).filter((g) => g.phase === 'off').length;
    const free = this.#slots.filter((s) => s === null).length;
    if (incoming > free) {
      // Victims: resident groups that lost the slot race; idle ones first, then lowest priority.
      const victims = this.#slots
        .filter((g): g is CsfGroup => g !== null && g.phase === 'resident' && !chosen.has(g))
        .sort((a, b) => Number(this.#hasWork(a)) - Number(this.#hasWork(b)) || PRIO_RANK[a.priority] - PRIO_RANK[b.priority] || b.rrSeq - a.rrSeq);
      for (const v of victims.slice(0, incoming - free)) this.#evict(v);
    }
    if (dev.rt.trace.enabled && periodic) dev.rt.trace.emit('hw:csg', { dev: dev.name, group: 0, slot: undefined, op: 'tick', priority: '' }, { lane: `${dev.name}:fw` });
    this.#placePending();
    this.#armTick();
  }

  #ordered(groups: CsfGroup[]): CsfGroup[] {
    return groups.sort((a, b) => PRIO_RANK[b.priority] - PRIO_RANK[a.priority] || a.rrSeq - b.rrSeq || a.id - b.id);
  }

  #hasWork(g: CsfGroup): boolean {
    for (const q of g.queues) {
      const hw = q.hw;
      if (hw.state === 'running' || (hw.state === 'idle' && hw.hasWork)) return true;
    }
    return false;
  }

  #schedulable(g: CsfGroup): boolean {
    return g.st !== 'terminated' && !g.userSuspended && this.#hasWork(g);
  }

  #someoneWaits(): boolean {
    for (const g of this.#groups) if (g.phase === 'off' && this.#schedulable(g)) return true;
    return false;
  }

  /**
   * A group got work but has no slot. As panthor's group_schedule: tick at once if a slot
   * is free, a resident group is idle, or the group is real-time; otherwise at the next
   * tick (last tick + period).
   */
  #wantSlot(g: CsfGroup): void {
    if (!this.#schedulable(g)) return;
    const free = this.#slots.includes(null);
    const idle = this.#slots.some((r) => r !== null && r.phase === 'resident' && !this.#hasWork(r));
    if (free || idle || g.priority === 'realtime') this.#kick();
    else this.#armTick();
  }

  #kick(): void {
    if (this.#kickEv === null) this.#kickEv = this.#dev.schedule(0, kickTick, this);
  }

  #armTick(): void {
    const dev = this.#dev;
    const contention = this.#someoneWaits();
    if (contention && this.#tickEv === null && this.#t.tickMs !== Infinity && !dev.lost) {
      const delay = Math.max(0, this.#lastTick + this.#t.tickMs - dev.rt.now());
      this.#tickEv = dev.schedule(delay, periodicTick, this);
    } else if (!contention && this.#tickEv !== null) {
      dev.cancel(this.#tickEv);
      this.#tickEv = null;
    }
  }

  #placePending(): void {
    const waiting = this.#ordered(this.#groups.filter((g) => g.phase === 'off' && this.#schedulable(g)));
    for (const g of waiting) {
      const slot = this.#slots.indexOf(null);
      if (slot < 0) break;
      this.#load(g, slot);
    }
  }

  #load(g: CsfGroup, slot: number): void {
    const dev = this.#dev;
    this.#slots[slot] = g;
    g.slotNo = slot;
    g.phase = 'loading';
    g.st = 'active';
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:csg', { dev: dev.name, group: g.id, slot, op: 'load', priority: g.priority }, { lane: `${dev.name}:fw` });
    dev.schedule(this.#t.resumeLatencyMs, loaded, g);
  }

  /** @internal */
  loaded(g: CsfGroup): void {
    if (g.phase !== 'loading' || this.#dev.lost) return;
    if (this.#fwError(g, 'csf:load')) return;
    g.phase = 'resident';
    g.residentSince = this.#dev.rt.now();
    if (g.userSuspended) {
      this.#evict(g);
      return;
    }
    for (const q of g.queues) this.#startQueue(q);
    if (!this.#hasWork(g)) this.ctxIdle(g.queues[0]!.hw);
  }

  #startQueue(q: CsfQueue): void {
    const g = q.group;
    const hw = q.hw;
    if (g.phase !== 'resident' || hw.engine !== null || hw.state !== 'idle' || !hw.hasWork) return;
    this.#dev.cs.start(hw, this.#engineFor(g.slotNo!, q.index));
  }

  #engineFor(slot: number, qi: number): Engine {
    return this.#dev.engines[slot * this.#t.maxQueuesPerGroup + qi]!;
  }

  #evict(g: CsfGroup): void {
    const dev = this.#dev;
    if (this.#fwError(g, 'csf:suspend')) return;
    g.residentAccum += dev.rt.now() - g.residentSince;
    g.phase = 'evicting';
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:csg', { dev: dev.name, group: g.id, slot: g.slotNo ?? undefined, op: 'suspend', priority: g.priority }, { lane: `${dev.name}:fw` });
    g.pendingSaves = 1; // the CSG suspend acknowledgement itself
    let hung = false;
    for (const q of g.queues) {
      if (q.hw.engine === null) continue;
      g.pendingSaves++;
      if (!dev.cs.preempt(q.hw, this.#t.suspendLatencyMs, 'suspend', queueSaved)) hung = true;
    }
    dev.schedule(this.#t.suspendLatencyMs, groupAck, g);
    if (hung) g.timeoutEv = dev.schedule(this.#t.suspendTimeoutMs, suspendTimeout, g);
  }

  /** @internal One save of an eviction finished. */
  saveDone(g: CsfGroup): void {
    if (g.phase !== 'evicting' || --g.pendingSaves > 0) return;
    const dev = this.#dev;
    if (g.timeoutEv !== null) dev.cancel(g.timeoutEv);
    g.timeoutEv = null;
    const slot = g.slotNo!;
    this.#slots[slot] = null;
    g.slotNo = null;
    g.phase = 'off';
    g.st = 'suspended';
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:csg', { dev: dev.name, group: g.id, slot, op: 'suspended', priority: g.priority }, { lane: `${dev.name}:fw` });
    for (const w of g.waiters.splice(0)) w.wake(null);
    this.#placePending();
    this.#armTick();
  }

  /** @internal A suspend did not finish: terminate the group. */
  suspendTimedOut(g: CsfGroup): void {
    g.timeoutEv = null;
    if (g.phase !== 'evicting' || this.#dev.lost) return;
    let mask = 0;
    for (const q of g.queues) if (q.hw.hung) mask |= 1 << q.index;
    this.terminate(g, { mask, why: 'suspend-timeout' });
  }

  /** @internal */
  flushSync(): void {
    this.#syncEv = null;
    if (this.#dev.lost || this.#syncPending.size === 0) return;
    const groups = [...this.#syncPending].sort((a, b) => a - b);
    this.#syncPending.clear();
    this.#dev.irq.raise({ kind: 'sync-update', groups }, groups.join(','));
  }

  /** An injected firmware error on a slot request: the group is terminated (panthor escalates). */
  #fwError(g: CsfGroup, site: string): boolean {
    const dev = this.#dev;
    const err = dev.faults.armed ? dev.faults.fwError(site) : null;
    if (err === null) return false;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'fw-error', ctx: g.name, detail: `${site}: ${err}` }, { lane: `${dev.name}:fw` });
    this.terminate(g, { mask: 0, why: 'fw-error' });
    return true;
  }

  #syncUpdate(g: CsfGroup): void {
    this.#syncPending.add(g.id);
    if (this.#syncEv === null) this.#syncEv = this.#dev.schedule(0, flushSync, this);
  }

  #ringInUse(ring: unknown): boolean {
    for (const g of this.#groups) if (g.st !== 'terminated' && g.queues.some((q) => q.ring === ring)) return true;
    return false;
  }
}

function kickTick(arg: unknown): void {
  (arg as CsfFirmware).runTick(false);
}

function periodicTick(arg: unknown): void {
  (arg as CsfFirmware).runTick(true);
}

function loaded(arg: unknown): void {
  const g = arg as CsfGroup;
  g.sched.loaded(g);
}

function groupAck(arg: unknown): void {
  const g = arg as CsfGroup;
  g.sched.saveDone(g);
}

function queueSaved(ctx: HwContext): void {
  const q = ctx.fw as CsfQueue;
  q.group.sched.saveDone(q.group);
}

function suspendTimeout(arg: unknown): void {
  const g = arg as CsfGroup;
  g.sched.suspendTimedOut(g);
}

function flushSync(arg: unknown): void {
  (arg as CsfFirmware).flushSync();
}
