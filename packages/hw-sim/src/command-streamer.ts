import type { BatchCommand, SemaphoreWaitCommand } from './commands.js';
import type { DeviceCore } from './device.js';
import type { Engine } from './engine.js';
import type { HwContext } from './hw-context.js';

interface SaveArg {
  cs: CommandStreamer;
  ctx: HwContext;
  reason: string;
  t0: number;
  done: (ctx: HwContext) => void;
}

/**
 * The command streamer: runs a context's ring on an engine. Zero-time commands (writes,
 * interrupts, passed semaphores) run back to back at one instant; a batch occupies the
 * engine for its cost-model duration (one executor event at its end). Preemption saves
 * the batch's remaining time; an unmet semaphore takes the context off the engine until
 * a write to the address meets it. It reports what happened to the context's owner (the
 * firmware model), which decides what runs next.
 */
export class CommandStreamer {
  readonly #dev: DeviceCore;

  constructor(dev: DeviceCore) {
    this.#dev = dev;
  }

  /** Put `ctx` on `engine` and run it. */
  start(ctx: HwContext, engine: Engine): void {
    const now = this.#dev.rt.now();
    engine.current = ctx;
    engine.state = 'busy';
    engine.busySince = now;
    ctx.engine = engine;
    ctx.cs = this;
    ctx.state = 'running';
    ctx.runSince = now;
    this.step(ctx);
  }

  /**
   * Start saving `ctx` off its engine: the batch's progress is kept; after `latencyMs`
   * the engine is free and `done(ctx)` runs. Returns false for a hung context (its save
   * never completes; the owner's preemption timeout must reset the engine).
   */
  preempt(ctx: HwContext, latencyMs: number, reason: string, done: (ctx: HwContext) => void): boolean {
    const dev = this.#dev;
    const engine = ctx.engine;
    if (engine === null) return true;
    const now = dev.rt.now();
    engine.state = 'preempting';
    this.#endPiece(ctx, now, 'preempted');
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:preempt', { dev: dev.name, ctx: ctx.name, engine: engine.name, reason, phase: 'start', latency: undefined }, { lane: engine.lane });
    if (ctx.hung) return false;
    const arg: SaveArg = { cs: this, ctx, reason, t0: now, done };
    ctx.saveEv = dev.schedule(latencyMs, saveDone, arg);
    return true;
  }

  /**
   * Take `ctx` off its engine at once (an engine reset): the current batch's progress is
   * lost (it restarts if the context ever runs again), a pending save is dropped, the
   * hang is cleared. The owner sets the context's state.
   */
  kill(ctx: HwContext): void {
    const dev = this.#dev;
    if (ctx.saveEv !== null) {
      dev.cancel(ctx.saveEv);
      ctx.saveEv = null;
    }
    if (ctx.engine !== null) {
      this.#endPiece(ctx, dev.rt.now(), 'reset');
      this.#leave(ctx);
    }
    this.#unblock(ctx);
    ctx.batchLeft = -1;
    ctx.hung = false;
  }

  /** Run zero-time commands until a batch starts, a semaphore blocks, or the ring is drained. */
  step(ctx: HwContext): void {
    const dev = this.#dev;
    if (dev.lost) return;
    const ring = ctx.ring;
    const mem = dev.memory;
    const stats = dev.stats;
    const trace = dev.rt.trace;
    while (ring.rptr < ctx.hwTail) {
      const cmd = ring.peek()!;
      switch (cmd.op) {
        case 'batch':
          this.#beginBatch(ctx, cmd);
          return;
        case 'seqnoWrite':
        case 'userFenceWrite':
          if (!mem.deviceWrite64(cmd.addr, cmd.value)) {
            this.#pageFault(ctx, cmd.addr);
            return;
          }
          ring.pop();
          stats.commands++;
          if (trace.enabled) trace.emit('hw:cmd', { dev: dev.name, ctx: ctx.name, op: cmd.op, addr: cmd.addr, value: cmd.value }, { lane: ctx.engine!.lane });
          if (cmd.op === 'seqnoWrite') ctx.owner.seqnoWritten(ctx, cmd.addr);
          break;
        case 'semaphoreWait': {
          const v = mem.deviceRead64(cmd.addr);
          if (v === null) {
            this.#pageFault(ctx, cmd.addr);
            return;
          }
          if (!semaphoreMet(cmd, v)) {
            this.#block(ctx, cmd);
            return;
          }
          ring.pop();
          stats.commands++;
          if (trace.enabled) trace.emit('hw:cmd', { dev: dev.name, ctx: ctx.name, op: cmd.op, addr: cmd.addr, value: cmd.value }, { lane: ctx.engine!.lane });
          break;
        }
        case 'interrupt':
          ring.pop();
          stats.commands++;
          if (trace.enabled) trace.emit('hw:cmd', { dev: dev.name, ctx: ctx.name, op: cmd.op, addr: undefined, value: BigInt(cmd.data ?? 0) }, { lane: ctx.engine!.lane });
          ctx.owner.userInterrupt(ctx, cmd.data ?? 0);
          break;
        case 'protectedFence': {
          ring.pop();
          const rptr = BigInt(ring.rptr);
          if (!mem.deviceWrite64(cmd.addr, rptr)) {
            this.#pageFault(ctx, cmd.addr);
            return;
          }
          stats.commands++;
          if (trace.enabled) trace.emit('hw:cmd', { dev: dev.name, ctx: ctx.name, op: cmd.op, addr: cmd.addr, value: rptr }, { lane: ctx.engine!.lane });
          break;
        }
        case 'noop':
          ring.pop();
          stats.commands++;
          break;
      }
    }
    this.#leave(ctx);
    ctx.state = 'idle';
    ctx.owner.ctxIdle(ctx);
  }

  /** @internal A batch piece ran to its end. */
  batchDone(ctx: HwContext): void {
    const dev = this.#dev;
    ctx.batchEv = null;
    if (dev.lost) return;
    const cmd = ctx.ring.pop() as BatchCommand;
    ctx.batchLeft = -1;
    ctx.batches++;
    dev.stats.commands++;
    dev.stats.batches++;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:batch', { dev: dev.name, ctx: ctx.name, units: cmd.units, end: 'completed' }, { lane: ctx.engine!.lane, ph: 'E' });
    this.step(ctx);
  }

  /** @internal A save finished. */
  saveDone(arg: SaveArg): void {
    const { ctx } = arg;
    ctx.saveEv = null;
    const dev = this.#dev;
    if (dev.lost) return;
    const engine = ctx.engine!;
    dev.stats.preemptions++;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:preempt', { dev: dev.name, ctx: ctx.name, engine: engine.name, reason: arg.reason, phase: 'saved', latency: dev.rt.now() - arg.t0 }, { lane: engine.lane });
    this.#leave(ctx);
    ctx.state = 'idle';
    arg.done(ctx);
  }

  #beginBatch(ctx: HwContext, cmd: BatchCommand): void {
    const dev = this.#dev;
    const now = dev.rt.now();
    if (ctx.batchLeft < 0) {
      let d = dev.cost.duration(ctx.engineClass, cmd.units, ctx.costScale);
      const faults = dev.faults;
      if (faults.armed) {
        if (faults.shouldHang(ctx.name)) {
          ctx.hung = true;
          if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'hang', ctx: ctx.name, detail: cmd.label }, { lane: ctx.engine!.lane });
        }
        const stall = faults.stallMs(ctx.name);
        if (stall > 0) {
          d += stall;
          if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'stall', ctx: ctx.name, detail: `${stall}ms` }, { lane: ctx.engine!.lane });
        }
      }
      ctx.batchLeft = d;
    }
    ctx.pieceStart = now;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:batch', { dev: dev.name, ctx: ctx.name, units: cmd.units, end: undefined }, { lane: ctx.engine!.lane, ph: 'B' });
    if (ctx.hung) return;
    ctx.batchEv = dev.schedule(ctx.batchLeft, batchDone, ctx);
  }

  /** Close the running batch piece (preempted or reset), keeping its remaining time. */
  #endPiece(ctx: HwContext, now: number, why: string): void {
    const dev = this.#dev;
    const inBatch = ctx.batchEv !== null || (ctx.hung && ctx.batchLeft >= 0);
    if (ctx.batchEv !== null) {
      dev.cancel(ctx.batchEv);
      ctx.batchEv = null;
      ctx.batchLeft = Math.max(0, ctx.batchLeft - (now - ctx.pieceStart));
    }
    if (inBatch && dev.rt.trace.enabled) {
      const cmd = ctx.ring.peek() as BatchCommand | undefined;
      dev.rt.trace.emit('hw:batch', { dev: dev.name, ctx: ctx.name, units: cmd?.units ?? 0, end: why }, { lane: ctx.engine!.lane, ph: 'E' });
    }
  }

  #leave(ctx: HwContext): void {
    const engine = ctx.engine;
    if (engine === null) return;
    const now = this.#dev.rt.now();
    engine.busyAccum += now - engine.busySince;
    engine.current = null;
    engine.state = 'idle';
    ctx.runtimeAccum += now - ctx.runSince;
    ctx.engine = null;
  }

  #pageFault(ctx: HwContext, addr: number): void {
    const dev = this.#dev;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'page-fault', ctx: ctx.name, detail: `0x${addr.toString(16)}` }, { lane: ctx.engine!.lane });
    this.#leave(ctx);
    ctx.state = 'error';
    ctx.owner.ctxFault(ctx, 'page-fault', addr);
  }

  #block(ctx: HwContext, cmd: SemaphoreWaitCommand): void {
    const dev = this.#dev;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:semaphore', { dev: dev.name, ctx: ctx.name, addr: cmd.addr, value: cmd.value, cmp: cmd.compare ?? 'gte', state: 'block' }, { lane: ctx.engine!.lane });
    this.#leave(ctx);
    ctx.state = 'blocked';
    ctx.sem = cmd;
    ctx.semUnwatch = dev.memory.watch(cmd.addr, () => this.#semWritten(ctx));
    ctx.owner.ctxBlocked(ctx);
  }

  #semWritten(ctx: HwContext): void {
    const cmd = ctx.sem;
    if (cmd === null) return;
    const dev = this.#dev;
    const v = dev.memory.deviceRead64(cmd.addr);
    if (v === null || !semaphoreMet(cmd, v)) return;
    this.#unblock(ctx);
    ctx.state = 'idle';
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:semaphore', { dev: dev.name, ctx: ctx.name, addr: cmd.addr, value: cmd.value, cmp: cmd.compare ?? 'gte', state: 'release' }, { lane: `${dev.name}:fw` });
    // The firmware notices on its next poll, not inside the writer's command.
    dev.schedule(0, released, ctx);
  }

  #unblock(ctx: HwContext): void {
    if (ctx.semUnwatch !== null) ctx.semUnwatch();
    ctx.semUnwatch = null;
    ctx.sem = null;
  }
}

function semaphoreMet(cmd: SemaphoreWaitCommand, v: bigint): boolean {
  return cmd.compare === 'eq' ? v === cmd.value : v >= cmd.value;
}

function batchDone(arg: unknown): void {
  const ctx = arg as HwContext;
  ctx.cs!.batchDone(ctx);
}

function saveDone(arg: unknown): void {
  const a = arg as SaveArg;
  a.cs.saveDone(a);
}

function released(arg: unknown): void {
  const ctx = arg as HwContext;
  if (ctx.state !== 'idle' || ctx.engine !== null) return;
  ctx.owner.ctxReleased(ctx);
}
