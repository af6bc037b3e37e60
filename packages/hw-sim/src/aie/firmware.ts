import { DepError, ERRNO, type ErrnoName, type Waker } from '@dep/kernel';
import type { Engine } from '../engine.js';
import { checkInt, checkName, checkOptions, fail } from '../validate.js';
import { ColumnAllocator } from './column-allocator.js';
import { AieHwContext } from './context.js';
import type { AieDevice } from './device.js';
import type { AieContextOptions, MailboxResponse } from './types.js';

/** Resolved AIE timings (defaults filled in). */
export interface AieTimings {
  readonly columns: number;
  readonly maxContexts: number;
  readonly mgmtLatencyMs: number;
  readonly msgLatencyMs: number;
  readonly x2iRingWords: number;
  readonly i2xRingWords: number;
}

type MgmtResult = 0 | ErrnoName | 'lost';

/**
 * The AIE-like firmware (amdxdna): hardware contexts on contiguous column partitions
 * (column allocator), created and destroyed over the management channel (a round trip of
 * `mgmtLatencyMs`), each with a mailbox channel. The firmware picks a message up
 * `msgLatencyMs` after it is sent, runs it on the context's columns (per-unit cost divided
 * by the column count), writes the response into the device→host ring and raises the
 * channel's interrupt; the host rx path runs each message's handler. No preemption.
 */
export class AieFirmware {
  readonly columns: ColumnAllocator;
  readonly #dev: AieDevice;
  readonly #t: AieTimings;
  readonly #contexts: AieHwContext[] = [];
  readonly #waiters = new Set<Waker<MgmtResult>>();
  #nextId = 1;

  /** Made by {@link AieDevice}. (Not for drivers.) */
  constructor(dev: AieDevice, t: AieTimings) {
    this.#dev = dev;
    this.#t = t;
    this.columns = new ColumnAllocator(t.columns);
  }

  /** The timings in force. */
  get timings(): AieTimings {
    return this.#t;
  }

  /** Contexts not destroyed, in creation order. */
  get contexts(): readonly AieHwContext[] {
    return this.#contexts;
  }

  /** @internal */
  now(): number {
    return this.#dev.rt.now();
  }

  /**
   * Create a hardware context on `columns` contiguous columns. Validation and column
   * allocation happen at once (EINVAL, ENOSPC no columns, EBUSY too many contexts — thrown
   * before anything changes); the promise resolves when the firmware has created it, or
   * rejects (EIO firmware error, ENODEV device lost; the columns are freed). Sleeps.
   */
  createContext(options: AieContextOptions): Promise<AieHwContext> {
    const dev = this.#dev;
    dev.checkAlive('createContext');
    checkOptions('context options', options);
    const n = checkInt('columns', options.columns, 1, this.#t.columns);
    const name = options.name === undefined ? `hwctx${this.#nextId}` : checkName('context name', options.name);
    if (this.#contexts.length >= this.#t.maxContexts) fail('EBUSY', `${this.#t.maxContexts} hardware contexts exist already; destroy one first`);
    const range = this.columns.allocate(n);
    const ctx = new AieHwContext(this, this.#nextId++, name, range, this.#t.x2iRingWords, this.#t.i2xRingWords);
    this.#contexts.push(ctx);
    this.#traceMgmt('create-context', ctx.name);
    return this.#mgmt(`create ${name}`, () => this.#created(ctx)).then((r) => {
      if (r === 'lost') throw new DepError('ENODEV', `device ${dev.name} was lost while creating ${name}`);
      if (r !== 0) throw new DepError(r, `firmware refused to create ${name} (${r}); its columns were freed — retry or reset the device`);
      return ctx;
    });
  }

  /** @internal */
  destroyContext(ctx: AieHwContext): Promise<void> {
    this.#dev.checkAlive('destroy');
    if (ctx.st === 'destroyed') fail('ENOENT', `${ctx.name} is already destroyed`);
    if (ctx.st === 'destroying') fail('EALREADY', `${ctx.name} is being destroyed; await the first destroy()`);
    ctx.st = 'destroying';
    this.#traceMgmt('destroy-context', ctx.name);
    return this.#mgmt(`destroy ${ctx.name}`, () => {
      this.#teardown(ctx);
      return 0;
    }).then((r) => {
      if (r === 'lost') throw new DepError('ENODEV', `device ${this.#dev.name} was lost while destroying ${ctx.name}`);
    });
  }

  /** @internal Throws unless messages may be sent on `ctx`. */
  checkContext(ctx: AieHwContext, what: string): void {
    this.#dev.checkAlive(what);
    if (ctx.st === 'destroying' || ctx.st === 'destroyed') fail('ESHUTDOWN', `${what}: ${ctx.name} is ${ctx.st}; create a new hardware context`);
  }

  /** @internal The firmware should look at the host→device ring (after its pickup latency). */
  pump(ctx: AieHwContext): void {
    if (ctx.st !== 'ready' || ctx.current !== null || ctx.pumpEv !== null || ctx.mailbox.x2i.empty || this.#dev.lost) return;
    ctx.pumpEv = this.#dev.schedule(this.#t.msgLatencyMs, take, { fw: this, ctx });
  }

  /** @internal Take the next message and run it. */
  take(ctx: AieHwContext): void {
    ctx.pumpEv = null;
    const dev = this.#dev;
    if (ctx.st !== 'ready' || dev.lost) return;
    const entry = ctx.mailbox.x2i.pop();
    if (entry === undefined) return;
    const msg = entry.msg;
    const trace = dev.rt.trace;
    if (trace.enabled) trace.emit('hw:mbox', { dev: dev.name, ctx: ctx.name, id: entry.id, opcode: msg.opcode, op: 'take', status: undefined }, { lane: `${dev.name}:fw` });
    const plan = msg.opcode === 'execbuf' ? [msg.units] : msg.opcode === 'chain' ? msg.units : [0];
    const faults = dev.faults;
    let d = 0;
    let failedIndex = -1;
    let errno = 0;
    let hung = false;
    for (let i = 0; i < plan.length; i++) {
      if (faults.armed) {
        const err = faults.fwError(`aie:${msg.opcode}`);
        if (err !== null) {
          failedIndex = i;
          errno = -ERRNO[err];
          if (trace.enabled) trace.emit('hw:fault', { dev: dev.name, kind: 'fw-error', ctx: ctx.name, detail: `${msg.opcode}[${i}]: ${err}` }, { lane: `${dev.name}:fw` });
          break;
        }
        if (msg.opcode !== 'config-cu' && faults.shouldHang(ctx.name)) {
          hung = true;
          if (trace.enabled) trace.emit('hw:fault', { dev: dev.name, kind: 'hang', ctx: ctx.name, detail: `${msg.opcode}[${i}]` }, { lane: `${dev.name}:fw` });
          break;
        }
        const stall = faults.stallMs(ctx.name);
        if (stall > 0) {
          d += stall;
          if (trace.enabled) trace.emit('hw:fault', { dev: dev.name, kind: 'stall', ctx: ctx.name, detail: `${stall}ms` }, { lane: `${dev.name}:fw` });
        }
      }
      if (msg.opcode !== 'config-cu') d += dev.cost.duration('npu', plan[i]!, ctx.columns.count);
    }
    const now = dev.rt.now();
    ctx.current = { entry, start: now, failedIndex, errno, ev: null };
    const units = plan.reduce((a, b) => a + b, 0);
    for (const e of this.#engines(ctx)) {
      e.state = 'busy';
      e.busySince = now;
      e.holder = ctx.name;
      if (trace.enabled) trace.emit('hw:batch', { dev: dev.name, ctx: ctx.name, units, end: undefined }, { lane: e.lane, ph: 'B' });
    }
    if (hung) return;
    ctx.current.ev = dev.schedule(d, execDone, { fw: this, ctx });
  }

  /** @internal The running message finished. */
  execDone(ctx: AieHwContext): void {
    const ex = ctx.current;
    const dev = this.#dev;
    if (ex === null || dev.lost) return;
    this.#stopExec(ctx, ex.failedIndex >= 0 ? 'error' : 'completed');
    const ok = ex.failedIndex < 0;
    ctx.completed++;
    dev.stats.commands++;
    this.#post(ctx, {
      id: ex.entry.id,
      opcode: ex.entry.msg.opcode,
      status: ok ? 'ok' : 'error',
      errno: ex.errno,
      failedIndex: ex.failedIndex,
      data: [ok ? 0 : -ex.errno, ex.failedIndex],
    });
    this.pump(ctx);
  }

  /** @internal Move responses into the device→host ring while it has room; raise rx. */
  flushOutbox(ctx: AieHwContext): void {
    if (ctx.st === 'destroyed' || this.#dev.lost) return;
    const ring = ctx.mailbox.i2x;
    let wrote = 0;
    while (ctx.outbox.length > 0 && ring.slotsFor([{ resp: ctx.outbox[0]! }]) <= ring.space()) {
      ring.write({ resp: ctx.outbox.shift()! });
      wrote++;
    }
    if (wrote > 0 && !ctx.rxQueued) {
      ctx.rxQueued = true;
      this.#dev.rt.queueIrq(() => this.#rx(ctx));
    }
  }

  /** @internal */
  onLost(): void {
    for (const w of [...this.#waiters]) w.wake('lost');
    this.#waiters.clear();
  }

  /** @internal The management channel answered a create. */
  #created(ctx: AieHwContext): MgmtResult {
    const dev = this.#dev;
    const err = dev.faults.armed ? dev.faults.fwError('aie:create-context') : null;
    if (err !== null) {
      if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fault', { dev: dev.name, kind: 'fw-error', ctx: ctx.name, detail: `create-context: ${err}` }, { lane: `${dev.name}:fw` });
      this.#teardown(ctx);
      return err;
    }
    if (ctx.st === 'init') {
      ctx.st = 'ready';
      this.pump(ctx);
    }
    return 0;
  }

  #rx(ctx: AieHwContext): void {
    ctx.rxQueued = false;
    const dev = this.#dev;
    if (ctx.st === 'destroyed' || dev.lost) return;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:irq', { dev: dev.name, kind: 'mailbox-rx', detail: ctx.name, handled: true }, { lane: `${dev.name}:irq` });
    const n = ctx.mailbox.rx();
    if (n > 0) dev.irq.raise({ kind: 'mailbox', ctx: ctx.id, responses: n }, ctx.name);
  }

  #post(ctx: AieHwContext, resp: MailboxResponse): void {
    const dev = this.#dev;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:mbox', { dev: dev.name, ctx: ctx.name, id: resp.id, opcode: resp.opcode, op: 'resp', status: resp.status }, { lane: `${dev.name}:fw` });
    ctx.outbox.push(resp);
    this.flushOutbox(ctx);
  }

  #stopExec(ctx: AieHwContext, why: string): void {
    const ex = ctx.current;
    if (ex === null) return;
    const dev = this.#dev;
    const now = dev.rt.now();
    if (ex.ev !== null) dev.cancel(ex.ev);
    ctx.current = null;
    ctx.runAccum += now - ex.start;
    const msg = ex.entry.msg;
    const units = msg.opcode === 'execbuf' ? msg.units : msg.opcode === 'chain' ? msg.units.reduce((a, b) => a + b, 0) : 0;
    for (const e of this.#engines(ctx)) {
      e.busyAccum += now - e.busySince;
      e.state = 'idle';
      e.holder = null;
      if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:batch', { dev: dev.name, ctx: ctx.name, units, end: why }, { lane: e.lane, ph: 'E' });
    }
  }

  /** Destroy in firmware: stop, abort everything pending (handlers in irq context), free the columns. */
  #teardown(ctx: AieHwContext): void {
    const dev = this.#dev;
    if (ctx.pumpEv !== null) dev.cancel(ctx.pumpEv);
    ctx.pumpEv = null;
    this.#stopExec(ctx, 'aborted');
    ctx.outbox.length = 0;
    const aborted = ctx.mailbox.close();
    ctx.st = 'destroyed';
    this.columns.release(ctx.columns);
    const i = this.#contexts.indexOf(ctx);
    if (i >= 0) this.#contexts.splice(i, 1);
    if (aborted.length > 0) {
      if (dev.rt.trace.enabled) {
        for (const a of aborted) dev.rt.trace.emit('hw:mbox', { dev: dev.name, ctx: ctx.name, id: a.resp.id, opcode: a.resp.opcode, op: 'resp', status: 'aborted' }, { lane: `${dev.name}:fw` });
      }
      dev.rt.queueIrq(() => {
        for (const a of aborted) a.handler(a.resp);
      });
    }
  }

  async #mgmt(reason: string, apply: () => MgmtResult): Promise<MgmtResult> {
    const dev = this.#dev;
    const r = await dev.rt.sleepOn<MgmtResult>(reason, (w) => {
      this.#waiters.add(w);
      dev.schedule(this.#t.mgmtLatencyMs, mgmtDone, { fw: this, w, apply });
    });
    if (typeof r === 'symbol') return 'lost';
    return r;
  }

  /** @internal */
  mgmtDone(w: Waker<MgmtResult>, apply: () => MgmtResult): void {
    if (!this.#waiters.delete(w)) return;
    if (this.#dev.lost) {
      w.wake('lost');
      return;
    }
    w.wake(apply());
  }

  #engines(ctx: AieHwContext): Engine[] {
    const out: Engine[] = [];
    for (let c = ctx.columns.start; c < ctx.columns.start + ctx.columns.count; c++) out.push(this.#dev.engines[c]!);
    return out;
  }

  #traceMgmt(type: string, target: string): void {
    const dev = this.#dev;
    if (dev.rt.trace.enabled) dev.rt.trace.emit('hw:fw', { dev: dev.name, dir: 'h2g', type, target, status: undefined }, { lane: `${dev.name}:fw` });
  }
}

function take(arg: unknown): void {
  const a = arg as { fw: AieFirmware; ctx: AieHwContext };
  a.fw.take(a.ctx);
}

function execDone(arg: unknown): void {
  const a = arg as { fw: AieFirmware; ctx: AieHwContext };
  a.fw.execDone(a.ctx);
}

function mgmtDone(arg: unknown): void {
  const a = arg as { fw: AieFirmware; w: Waker<MgmtResult>; apply: () => MgmtResult };
  a.fw.mgmtDone(a.w, a.apply);
}
