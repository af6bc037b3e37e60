import type { ExecEvent } from '@dep/kernel';
import type { Engine, EngineClass } from '../engine.js';
import type { HwContext, StreamOwner } from '../hw-context.js';
import type { GucDevice } from './device.js';
import type { G2hMessage, GucPriority } from './types.js';

/** The GuC's record of a registered context. */
export interface GucCtx {
  readonly id: number;
  readonly hw: HwContext;
  priority: GucPriority;
  timesliceMs: number;
  preemptTimeoutMs: number;
  minRunPeriodMs: number;
  enabled: boolean;
  banned: boolean;
  queued: boolean;
  /** The engine record while on an engine. */
  rec: EngineRec | null;
  /** Run once when it is next off its engine (disable, deregister waiting for a save). */
  onOff: Array<() => void>;
}

/** Per-engine scheduling state. */
interface EngineRec {
  readonly engine: Engine;
  readonly q: ClassQueue;
  readonly sched: GucScheduler;
  sliceEv: ExecEvent | null;
  preemptEv: ExecEvent | null;
  timeoutEv: ExecEvent | null;
  /** A preemption was decided (maybe waiting out the minimum run period). */
  preempting: boolean;
  reason: string;
}

interface ClassQueue {
  readonly cls: EngineClass;
  readonly engines: EngineRec[];
  /** Runnable contexts per priority level, FIFO. */
  readonly levels: GucCtx[][];
  dispatching: boolean;
  again: boolean;
}

/**
 * The GuC's engine scheduler: per engine class, a FIFO of runnable contexts per priority
 * level; a free engine takes the head of the highest non-empty level. A runnable context
 * preempts a strictly lower-priority one at once (after that one's minimum run period); a
 * context that used up its timeslice is preempted when one of equal or higher priority
 * waits, and goes to the back of its level. A preemption that does not finish within the
 * victim's preemption timeout (a hung batch) resets the engine: the context is banned and
 * the host gets a `context-reset` G2H.
 */
export class GucScheduler implements StreamOwner {
  readonly #dev: GucDevice;
  readonly #classes = new Map<EngineClass, ClassQueue>();
  readonly #saveLatency: number;
  readonly #resetMs: number;
  readonly #g2h: (msg: G2hMessage) => void;

  constructor(dev: GucDevice, saveLatencyMs: number, engineResetMs: number, g2h: (msg: G2hMessage) => void) {
    this.#dev = dev;
    this.#saveLatency = saveLatencyMs;
    this.#resetMs = engineResetMs;
    this.#g2h = g2h;
    for (const engine of dev.engines) {
      let q = this.#classes.get(engine.class);
      if (q === undefined) {
        q = { cls: engine.class, engines: [], levels: [[], [], [], []], dispatching: false, again: false };
        this.#classes.set(engine.class, q);
      }
      q.engines.push({ engine, q, sched: this, sliceEv: null, preemptEv: null, timeoutEv: null, preempting: false, reason: '' });
    }
  }

  /** True if `g` should be on a run queue. */
  runnable(g: GucCtx): boolean {
    const hw = g.hw;
    return g.enabled && !g.banned && hw.state === 'idle' && hw.engine === null && hw.hasWork;
  }

  /** Queue `g` if it is runnable and not queued, run what can run, preempt for it if needed. */
  makeRunnable(g: GucCtx): void {
    if (g.queued || !this.runnable(g)) return;
    const q = this.#classes.get(g.hw.engineClass)!;
    q.levels[g.priority]!.push(g);
    g.queued = true;
    this.dispatch(q);
    if (g.queued) {
      this.#preemptFor(g, q);
      this.#armSlicesFor(g, q);
    }
  }

  /** Take `g` off its run queue. */
  dequeue(g: GucCtx): void {
    if (!g.queued) return;
    const level = this.#classes.get(g.hw.engineClass)!.levels[g.priority]!;
    const i = level.indexOf(g);
    if (i >= 0) level.splice(i, 1);
    g.queued = false;
  }

  /** Put runnable contexts on free engines of the class. */
  dispatch(q: ClassQueue): void {
    if (q.dispatching) {
      q.again = true;
      return;
    }
    q.dispatching = true;
    try {
      do {
        q.again = false;
        for (const rec of q.engines) {
          if (rec.engine.current !== null || rec.engine.state !== 'idle') continue;
          const g = this.#popHighest(q);
          if (g === null) break;
          this.#startOn(rec, g);
        }
      } while (q.again);
    } finally {
      q.dispatching = false;
    }
  }

  /** Disable scheduling of `g`: off the run queue, saved off its engine; `done` when it is off. */
  disable(g: GucCtx, done: () => void): void {
    g.enabled = false;
    this.dequeue(g);
    if (g.rec !== null) {
      g.onOff.push(done);
      this.requestPreempt(g.rec, 'disable');
    } else {
      done();
    }
  }

  /** Run `fn` once `g` is off its engine (at once if it is). */
  whenOff(g: GucCtx, fn: () => void): void {
    if (g.rec !== null) g.onOff.push(fn);
    else fn();
  }

  /**
   * Preempt the context on `rec`'s engine: honour its minimum run period, then save it
   * (context-save latency); reset the engine if the save outlasts its preemption timeout.
   */
  requestPreempt(rec: EngineRec, reason: string): void {
    if (rec.preempting) return;
    const ctx = rec.engine.current;
    if (ctx === null) return;
    const g = ctx.fw as GucCtx;
    const dev = this.#dev;
    const now = dev.rt.now();
    rec.preempting = true;
    rec.reason = reason;
    if (rec.sliceEv !== null) {
      dev.cancel(rec.sliceEv);
      rec.sliceEv = null;
    }
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:preempt', { dev: dev.name, ctx: ctx.name, engine: rec.engine.name, reason, phase: 'request', latency: undefined }, { lane: rec.engine.lane });
    const wait = ctx.runSince + g.minRunPeriodMs - now;
    if (wait > 0) rec.preemptEv = dev.schedule(wait, doPreempt, rec);
    else this.doPreempt(rec);
  }

  /** @internal */
  doPreempt(rec: EngineRec): void {
    rec.preemptEv = null;
    const ctx = rec.engine.current;
    if (ctx === null || this.#dev.lost) return;
    const g = ctx.fw as GucCtx;
    if (g.preemptTimeoutMs !== Infinity) rec.timeoutEv = this.#dev.schedule(g.preemptTimeoutMs, preemptTimeout, rec);
    this.#dev.cs.preempt(ctx, this.#saveLatency, rec.reason, saved);
  }

  /** @internal A preemption timed out: reset the engine. */
  preemptTimeout(rec: EngineRec): void {
    rec.timeoutEv = null;
    if (this.#dev.lost) return;
    const ctx = rec.engine.current;
    const dev = this.#dev;
    if (ctx !== null && dev.rt.trace.enabled) {
      dev.rt.trace.emit('hw:preempt', { dev: dev.name, ctx: ctx.name, engine: rec.engine.name, reason: rec.reason, phase: 'timeout', latency: undefined }, { lane: rec.engine.lane });
    }
    this.resetEngine(rec.engine, 'preempt-timeout');
  }

  /** @internal A save finished. */
  saved(ctx: HwContext): void {
    const g = ctx.fw as GucCtx;
    const rec = g.rec!;
    this.#offEngine(g);
    this.makeRunnable(g);
    this.dispatch(rec.q);
  }

  /**
   * Reset an engine: the context on it (if any) is banned and reported with a
   * `context-reset` G2H; the engine is back after the reset time.
   */
  resetEngine(engine: Engine, reason: 'preempt-timeout' | 'page-fault' | 'requested'): void {
    const q = this.#classes.get(engine.class)!;
    const rec = q.engines.find((r) => r.engine === engine)!;
    const dev = this.#dev;
    const ctx = engine.current;
    dev.stats.resets++;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:reset', { dev: dev.name, engine: engine.name, ctx: ctx?.name, reason }, { lane: engine.lane });
    if (ctx !== null) {
      const g = ctx.fw as GucCtx;
      dev.cs.kill(ctx);
      ctx.state = 'error';
      g.banned = true;
      this.#g2h({ type: 'context-reset', ctxId: g.id, engine: engine.name, reason });
      this.#offEngine(g);
    } else {
      this.#clearRec(rec);
    }
    engine.state = 'resetting';
    dev.schedule(this.#resetMs, resetDone, rec);
  }

  /** @internal */
  resetDone(rec: EngineRec): void {
    if (this.#dev.lost) return;
    if (rec.engine.state === 'resetting') rec.engine.state = 'idle';
    this.dispatch(rec.q);
  }

  /** GT reset: forget every queue and engine record (the caller kills the contexts). */
  clearAll(): void {
    for (const q of this.#classes.values()) {
      for (const level of q.levels) {
        for (const g of level) g.queued = false;
        level.length = 0;
      }
      for (const rec of q.engines) {
        this.#clearRec(rec);
        rec.engine.state = 'idle';
      }
    }
  }

  /** Contexts waiting in a class's run queue (for tests). */
  waiting(cls: EngineClass): number {
    const q = this.#classes.get(cls);
    return q === undefined ? 0 : q.levels.reduce((n, l) => n + l.length, 0);
  }

  // --- StreamOwner -------------------------------------------------------------------------

  ctxIdle(ctx: HwContext): void {
    const g = ctx.fw as GucCtx;
    const q = g.rec!.q;
    this.#offEngine(g);
    this.dispatch(q);
  }

  ctxBlocked(ctx: HwContext): void {
    this.ctxIdle(ctx);
  }

  ctxReleased(ctx: HwContext): void {
    this.makeRunnable(ctx.fw as GucCtx);
  }

  ctxFault(ctx: HwContext, _kind: 'page-fault', _addr: number): void {
    const g = ctx.fw as GucCtx;
    const rec = g.rec!;
    g.banned = true;
    this.#g2h({ type: 'context-reset', ctxId: g.id, engine: rec.engine.name, reason: 'page-fault' });
    this.#offEngine(g);
    this.dispatch(rec.q);
  }

  userInterrupt(ctx: HwContext, data: number): void {
    const g = ctx.fw as GucCtx;
    const engine = ctx.engine!.name;
    this.#dev.irq.raise({ kind: 'user-interrupt', ctxId: g.id, engine, data }, ctx.name);
  }

  seqnoWritten(): void {
    // The GuC raises nothing for a plain seqno write; the ring's interrupt command does.
  }

  // --- internals --------------------------------------------------------------------------

  #popHighest(q: ClassQueue): GucCtx | null {
    for (const level of q.levels) {
      const g = level.shift();
      if (g !== undefined) {
        g.queued = false;
        return g;
      }
    }
    return null;
  }

  #startOn(rec: EngineRec, g: GucCtx): void {
    g.rec = rec;
    this.#dev.cs.start(g.hw, rec.engine);
    if (g.hw.engine === rec.engine && rec.engine.state === 'busy' && this.#peerWaits(rec.q, g.priority)) this.#armSlice(rec);
  }

  /**
   * Arm the timeslice of the context on `rec` (if it has one and none is armed): it ends
   * `timesliceMs` after the context went on the engine, or now if that is past. Slices are
   * only armed while a peer of equal or higher priority waits, so an engine with nobody
   * waiting leaves no timer behind (and a run ends when the work does).
   */
  #armSlice(rec: EngineRec): void {
    const ctx = rec.engine.current;
    if (ctx === null || rec.sliceEv !== null || rec.preempting || rec.engine.state !== 'busy') return;
    const g = ctx.fw as GucCtx;
    if (g.timesliceMs === Infinity) return;
    const left = Math.max(0, ctx.runSince + g.timesliceMs - this.#dev.rt.now());
    rec.sliceEv = this.#dev.schedule(left, sliceExpired, rec);
  }

  #armSlicesFor(g: GucCtx, q: ClassQueue): void {
    for (const rec of q.engines) {
      const cur = rec.engine.current;
      if (cur !== null && (cur.fw as GucCtx).priority >= g.priority) this.#armSlice(rec);
    }
  }

  #peerWaits(q: ClassQueue, priority: GucPriority): boolean {
    for (let p = 0; p <= priority; p++) if (q.levels[p]!.length > 0) return true;
    return false;
  }

  /** @internal The running context's timeslice is over. */
  sliceExpired(rec: EngineRec): void {
    rec.sliceEv = null;
    const ctx = rec.engine.current;
    if (ctx === null || rec.preempting || this.#dev.lost) return;
    if (this.#peerWaits(rec.q, (ctx.fw as GucCtx).priority)) this.requestPreempt(rec, 'timeslice');
  }

  #preemptFor(g: GucCtx, q: ClassQueue): void {
    let victim: EngineRec | null = null;
    let worst = g.priority as number;
    for (const rec of q.engines) {
      const cur = rec.engine.current;
      if (cur === null || rec.preempting || rec.engine.state !== 'busy') continue;
      const p = (cur.fw as GucCtx).priority;
      if (p > worst) {
        worst = p;
        victim = rec;
      }
    }
    if (victim !== null) this.requestPreempt(victim, 'priority');
  }

  #clearRec(rec: EngineRec): void {
    const dev = this.#dev;
    if (rec.sliceEv !== null) dev.cancel(rec.sliceEv);
    if (rec.preemptEv !== null) dev.cancel(rec.preemptEv);
    if (rec.timeoutEv !== null) dev.cancel(rec.timeoutEv);
    rec.sliceEv = rec.preemptEv = rec.timeoutEv = null;
    rec.preempting = false;
  }

  #offEngine(g: GucCtx): void {
    if (g.rec !== null) this.#clearRec(g.rec);
    g.rec = null;
    const fns = g.onOff.splice(0);
    for (const fn of fns) fn();
  }
}

function doPreempt(arg: unknown): void {
  const rec = arg as EngineRec;
  rec.sched.doPreempt(rec);
}

function preemptTimeout(arg: unknown): void {
  const rec = arg as EngineRec;
  rec.sched.preemptTimeout(rec);
}

function sliceExpired(arg: unknown): void {
  const rec = arg as EngineRec;
  rec.sched.sliceExpired(rec);
}

function resetDone(arg: unknown): void {
  const rec = arg as EngineRec;
  rec.sched.resetDone(rec);
}

function saved(ctx: HwContext): void {
  (ctx.owner as GucScheduler).saved(ctx);
}
