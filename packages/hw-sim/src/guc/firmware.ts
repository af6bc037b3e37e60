import { ERRNO, INTERRUPTED, TIMED_OUT } from '@dep/kernel';
import { isCommandRing, type CommandRing } from '../commands.js';
import { ENGINE_CLASSES } from '../engine.js';
import { HwContext } from '../hw-context.js';
import { checkInt, checkName, checkNumber, checkOneOf, checkOptions, checkTimeout, fail } from '../validate.js';
import type { GucDevice } from './device.js';
import { GucScheduler, type GucCtx } from './scheduler.js';
import type { G2hMessage, GucAction, GucContextDesc, GucContextInfo, GucPolicies, GucPriority } from './types.js';

/** Resolved GuC timings (defaults filled in). */
export interface GucTimings {
  readonly maxContexts: number;
  readonly h2gLatencyMs: number;
  readonly g2hLatencyMs: number;
  readonly h2gCapacity: number;
  readonly ctxSaveLatencyMs: number;
  readonly engineResetMs: number;
  readonly gtResetMs: number;
  readonly defaults: Required<GucPolicies>;
}

/** What the host side believes (validation state): registered ids and their scheduling. */
interface HostView {
  readonly ring: CommandRing;
  enabled: boolean;
  deregistering: boolean;
}

interface H2g {
  readonly fw: GucFirmware;
  readonly gen: number;
  readonly action: GucAction;
  readonly id: number;
  readonly apply: () => void;
  readonly rollback: () => void;
}

/**
 * The GuC-like firmware (xe): the host talks to it with H2G requests that arrive after a
 * latency and answers come back as G2H interrupts after another. Contexts (ids from the
 * host's pool) are registered with a ring and policies, scheduling is enabled/disabled
 * asynchronously (`sched-done` replies), deregistration is answered by
 * `deregister-done`; `submit` tells the GuC the ring's tail moved. The engine scheduler
 * (the GuC scheduler) does priorities, timeslicing, preemption with a context-save
 * latency and minimum run period, engine resets on preemption timeout, and keeps each
 * context's running-time counter.
 *
 * Calls validate against what the host has asked so far (a request still in flight
 * counts), throw `DepError` before changing anything, and return at once.
 */
export class GucFirmware {
  readonly #dev: GucDevice;
  readonly #t: GucTimings;
  readonly #sched: GucScheduler;
  readonly #ctxs = new Map<number, GucCtx>();
  readonly #host = new Map<number, HostView>();
  #inflight = 0;
  readonly #h2gQueue: H2g[] = [];
  readonly #g2hQueue: Array<{ readonly gen: number; readonly msg: G2hMessage }> = [];
  #gen = 0;
  #resetting = false;

  /** Made by {@link GucDevice}. (Not for drivers.) */
  constructor(dev: GucDevice, timings: GucTimings) {
    this.#dev = dev;
    this.#t = timings;
    this.#sched = new GucScheduler(dev, timings.ctxSaveLatencyMs, timings.engineResetMs, (m) => this.#g2h(m));
  }

  /** H2G requests sent and not yet processed by the GuC. */
  get h2gInFlight(): number {
    return this.#inflight;
  }

  /** The timings in force. */
  get timings(): GucTimings {
    return this.#t;
  }

  /** Register a context: id, engine class, ring (LRC), policies. No reply. */
  registerContext(desc: GucContextDesc): void {
    this.#checkSend('registerContext');
    checkOptions('context descriptor', desc);
    const id = checkInt('context id', desc.id, 0, this.#t.maxContexts - 1);
    const cls = checkOneOf('engineClass', desc.engineClass, ENGINE_CLASSES);
    if (this.#dev.enginesOf(cls).length === 0) fail('EINVAL', `${this.#dev.name} has no ${cls} engine; register on one of ${[...new Set(this.#dev.engines.map((e) => e.class))].join(', ')}`);
    if (!isCommandRing(desc.ring)) fail('EINVAL', 'context ring must come from createCommandRing(dwords)');
    const name = desc.name === undefined ? `guc${id}` : checkName('context name', desc.name);
    const policies = this.#policies(desc, this.#t.defaults);
    const existing = this.#host.get(id);
    if (existing !== undefined) {
      fail(existing.deregistering ? 'EBUSY' : 'EEXIST', existing.deregistering ? `GuC id ${id} is being deregistered; wait for its deregister-done G2H before reusing it` : `GuC id ${id} is already registered; take a free id from your pool`);
    }
    for (const [other, v] of this.#host) if (v.ring === desc.ring) fail('EBUSY', `ring ${desc.ring.name} already belongs to GuC id ${other}; give each context its own ring`);
    this.#host.set(id, { ring: desc.ring, enabled: false, deregistering: false });
    this.#send('register', id, () => {
      const g: GucCtx = { id, hw: null as unknown as HwContext, ...policies, enabled: false, banned: false, queued: false, rec: null, onOff: [] };
      (g as { hw: HwContext }).hw = new HwContext(id, name, cls, desc.ring, this.#sched, g);
      this.#ctxs.set(id, g);
    }, () => this.#host.delete(id));
  }

  /** Deregister a disabled context. Reply: `deregister-done`; reuse the id only after it. */
  deregisterContext(id: number): void {
    this.#checkSend('deregisterContext');
    const v = this.#view(id);
    if (v.enabled) fail('EBUSY', `GuC id ${id} still has scheduling enabled; disableScheduling() first (wait for sched-done)`);
    v.deregistering = true;
    this.#send('deregister', id, () => {
      const g = this.#ctxs.get(id);
      if (g === undefined) return;
      this.#sched.whenOff(g, () => {
        this.#sched.dequeue(g);
        this.#dev.cs.kill(g.hw); // drops a pending semaphore watch
        this.#ctxs.delete(id);
        this.#host.delete(id);
        this.#g2h({ type: 'deregister-done', ctxId: id });
      });
    }, () => {
      v.deregistering = false;
    });
  }

  /** Change a context's policies (priority, timeslice, preemption timeout, minimum run period). No reply. */
  setPolicies(id: number, policies: GucPolicies): void {
    this.#checkSend('setPolicies');
    this.#view(id);
    checkOptions('policies', policies);
    const p = this.#policies(policies, null);
    this.#send('set-policies', id, () => {
      const g = this.#ctxs.get(id);
      if (g === undefined) return;
      if (p.priority !== undefined && p.priority !== g.priority) {
        const wasQueued = g.queued;
        this.#sched.dequeue(g);
        g.priority = p.priority;
        if (wasQueued) this.#sched.makeRunnable(g);
      }
      if (p.timesliceMs !== undefined) g.timesliceMs = p.timesliceMs;
      if (p.preemptTimeoutMs !== undefined) g.preemptTimeoutMs = p.preemptTimeoutMs;
      if (p.minRunPeriodMs !== undefined) g.minRunPeriodMs = p.minRunPeriodMs;
    }, noop);
  }

  /** Enable scheduling (the first "schedule context"); the GuC reads the ring tail. Reply: `sched-done`. */
  enableScheduling(id: number): void {
    this.#checkSend('enableScheduling');
    const v = this.#view(id);
    if (v.enabled) fail('EALREADY', `GuC id ${id} already has scheduling enabled`);
    this.#checkNotBanned(id);
    v.enabled = true;
    this.#send('enable-scheduling', id, () => {
      const g = this.#ctxs.get(id);
      if (g === undefined) return;
      g.enabled = true;
      g.hw.hwTail = g.hw.ring.wptr;
      this.#sched.makeRunnable(g);
      this.#g2h({ type: 'sched-done', ctxId: id, enabled: true, runtimeMs: g.hw.runtimeMs(this.#dev.rt.now()) });
    }, () => {
      v.enabled = false;
    });
  }

  /**
   * Disable scheduling: the GuC preempts the context off its engine (after its minimum run
   * period, with the save latency) and replies `sched-done` with the running-time counter.
   */
  disableScheduling(id: number): void {
    this.#checkSend('disableScheduling');
    const v = this.#view(id);
    if (!v.enabled) fail('EALREADY', `GuC id ${id} has scheduling disabled already`);
    v.enabled = false;
    this.#send('disable-scheduling', id, () => {
      const g = this.#ctxs.get(id);
      if (g === undefined) return;
      this.#sched.disable(g, () => {
        this.#g2h({ type: 'sched-done', ctxId: id, enabled: false, runtimeMs: g.hw.runtimeMs(this.#dev.rt.now()) });
      });
    }, () => {
      v.enabled = true;
    });
  }

  /** "Schedule context": the ring's tail moved (write commands first). No reply. */
  submit(id: number): void {
    this.#checkSend('submit');
    this.#view(id);
    this.#checkNotBanned(id);
    this.#send('submit', id, () => {
      const g = this.#ctxs.get(id);
      if (g === undefined) return;
      const hw = g.hw;
      hw.hwTail = hw.ring.wptr;
      const rt = this.#dev.rt;
      if (rt.trace.enabled) rt.trace.emit('hw:doorbell', { dev: this.#dev.name, ctx: hw.name, tail: hw.hwTail }, { lane: `${this.#dev.name}:fw` });
      this.#sched.makeRunnable(g);
    }, noop);
  }

  /** Ask the GuC to reset an engine; the context on it is reported with `context-reset`. */
  resetEngine(engine: string): void {
    this.#checkSend('resetEngine');
    const e = this.#dev.engine(engine);
    this.#send('reset-engine', -1, () => this.#sched.resetEngine(e, 'requested'), noop);
  }

  /**
   * GT reset: every engine stops, the GuC forgets every context (the host re-registers
   * what it wants to replay; rings keep their read pointers, the batch at the head
   * restarts), in-flight H2G/G2H messages are dropped. Resolves after the reset time.
   * Sleeps.
   */
  async gtReset(): Promise<void> {
    this.#dev.checkAlive('gtReset');
    if (this.#resetting) fail('EBUSY', 'a GT reset is already in progress; await it');
    const dev = this.#dev;
    this.#resetting = true;
    this.#gen++;
    this.#inflight = 0;
    dev.stats.resets++;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:reset', { dev: dev.name, engine: 'gt', ctx: undefined, reason: 'gt-reset' }, { lane: `${dev.name}:fw` });
    for (const g of this.#ctxs.values()) {
      dev.cs.kill(g.hw);
      g.hw.state = 'idle';
      g.rec = null;
      g.onOff.length = 0;
    }
    this.#sched.clearAll();
    this.#ctxs.clear();
    this.#host.clear();
    try {
      const r = await dev.rt.sleepOn<null>('gt reset', (w) => { dev.schedule(this.#t.gtResetMs, wakeNull, w); });
      if (r === TIMED_OUT || r === INTERRUPTED) return;
    } finally {
      this.#resetting = false;
    }
    dev.checkAlive('gtReset');
  }

  /** A context as the GuC sees it, or null if it does not know the id. */
  contextInfo(id: number): GucContextInfo | null {
    const g = this.#ctxs.get(id);
    if (g === undefined) return null;
    const hw = g.hw;
    return {
      id,
      name: hw.name,
      engineClass: hw.engineClass,
      priority: g.priority,
      timesliceMs: g.timesliceMs,
      preemptTimeoutMs: g.preemptTimeoutMs,
      minRunPeriodMs: g.minRunPeriodMs,
      enabled: g.enabled,
      banned: g.banned,
      state: hw.state,
      engine: hw.engine?.name ?? null,
      runtimeMs: hw.runtimeMs(this.#dev.rt.now()),
      rptr: hw.ring.rptr,
      hwTail: hw.hwTail,
    };
  }

  /** The running-time counter of a context (ms). ENOENT if the GuC does not know it. */
  runtimeMs(id: number): number {
    const g = this.#ctxs.get(id);
    if (g === undefined) fail('ENOENT', `GuC id ${id} is not registered (or its register H2G has not arrived yet)`);
    return g.hw.runtimeMs(this.#dev.rt.now());
  }

  /** Ids the GuC has registered, ascending. */
  contextIds(): number[] {
    return [...this.#ctxs.keys()].sort((a, b) => a - b);
  }

  /** Runnable contexts waiting for an engine of `cls`. */
  waiting(cls: GucContextDesc['engineClass']): number {
    return this.#sched.waiting(cls);
  }

  /** @internal */
  onLost(): void {
    this.#gen++;
  }

  /** @internal Process one H2G request. */
  process(m: H2g): void {
    if (m.gen !== this.#gen) return; // sent before a GT reset, which emptied the buffer
    this.#inflight--;
    if (this.#dev.lost) return;
    const dev = this.#dev;
    const err = dev.faults.armed ? dev.faults.fwError(`guc:${m.action}`) : null;
    if (err !== null) {
      if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'fw-error', ctx: m.id >= 0 ? `guc${m.id}` : undefined, detail: `${m.action}: ${err}` }, { lane: `${dev.name}:fw` });
      m.rollback();
      this.#g2h({ type: 'error', action: m.action, ctxId: m.id, status: -ERRNO[err] });
      return;
    }
    m.apply();
  }

  /** @internal Deliver one G2H. */
  deliver(gen: number, msg: G2hMessage): void {
    const dev = this.#dev;
    if (dev.lost || gen !== this.#gen) return;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fw', { dev: dev.name, dir: 'g2h', type: msg.type, target: `guc${msg.ctxId}`, status: msg.type === 'error' ? msg.status : undefined }, { lane: `${dev.name}:fw` });
    dev.irq.raise({ kind: 'g2h', msg }, msg.type);
  }

  #send(action: GucAction, id: number, apply: () => void, rollback: () => void): void {
    const dev = this.#dev;
    this.#inflight++;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fw', { dev: dev.name, dir: 'h2g', type: action, target: id >= 0 ? `guc${id}` : undefined, status: undefined }, { lane: `${dev.name}:fw` });
    // The CT buffers are rings: each delivery event takes the *oldest* message, so requests
    // arrive in the order they were sent even when chaos reorders same-instant events.
    this.#h2gQueue.push({ fw: this, gen: this.#gen, action, id, apply, rollback });
    dev.schedule(this.#t.h2gLatencyMs, processH2g, this);
  }

  #g2h(msg: G2hMessage): void {
    const dev = this.#dev;
    if (dev.faults.armed && dev.faults.shouldDropReply(`guc:${msg.type}`)) {
      if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'drop-reply', ctx: `guc${msg.ctxId}`, detail: msg.type }, { lane: `${dev.name}:fw` });
      return;
    }
    this.#g2hQueue.push({ gen: this.#gen, msg });
    this.#dev.schedule(this.#t.g2hLatencyMs, deliverG2h, this);
  }

  /** @internal The delivery event of one H2G request: processes the oldest one. */
  processNext(): void {
    const m = this.#h2gQueue.shift();
    if (m !== undefined) this.process(m);
  }

  /** @internal The delivery event of one G2H message: delivers the oldest one. */
  deliverNext(): void {
    const g = this.#g2hQueue.shift();
    if (g !== undefined) this.deliver(g.gen, g.msg);
  }

  #checkSend(what: string): void {
    this.#dev.checkAlive(what);
    if (this.#resetting) fail('EBUSY', `${what}: a GT reset is in progress; await gtReset() and re-register`);
    if (this.#inflight >= this.#t.h2gCapacity) fail('EBUSY', `${what}: the H2G buffer is full (${this.#inflight} requests in flight); let the executor run and retry`);
  }

  #view(id: number): HostView {
    checkInt('context id', id, 0, this.#t.maxContexts - 1);
    const v = this.#host.get(id);
    if (v === undefined || v.deregistering) fail('ENOENT', `GuC id ${id} is not registered${v?.deregistering === true ? ' (deregistration in flight)' : ''}; registerContext() first`);
    return v;
  }

  #checkNotBanned(id: number): void {
    if (this.#ctxs.get(id)?.banned === true) fail('ECANCELED', `GuC id ${id} was reset by the GuC and is banned; disable and deregister it, then register a new context`);
  }

  #policies<D extends Required<GucPolicies> | null>(p: GucPolicies, defaults: D): D extends null ? GucPolicies : Required<GucPolicies> {
    const out: { priority?: GucPriority; timesliceMs?: number; preemptTimeoutMs?: number; minRunPeriodMs?: number } = defaults === null ? {} : { ...defaults };
    if (p.priority !== undefined) out.priority = checkInt('priority', p.priority, 0, 3) as GucPriority;
    if (p.timesliceMs !== undefined) out.timesliceMs = checkTimeout('timesliceMs', p.timesliceMs, Number.MIN_VALUE);
    if (p.preemptTimeoutMs !== undefined) out.preemptTimeoutMs = checkTimeout('preemptTimeoutMs', p.preemptTimeoutMs, Number.MIN_VALUE);
    if (p.minRunPeriodMs !== undefined) out.minRunPeriodMs = checkNumber('minRunPeriodMs', p.minRunPeriodMs, 0);
    return out as D extends null ? GucPolicies : Required<GucPolicies>;
  }
}

function noop(): void {}

function processH2g(arg: unknown): void {
  (arg as GucFirmware).processNext();
}

function deliverG2h(arg: unknown): void {
  (arg as GucFirmware).deliverNext();
}

function wakeNull(arg: unknown): void {
  (arg as { wake(v: null): boolean }).wake(null);
}
