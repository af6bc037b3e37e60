import { isDepError, Runtime, type TraceRecord } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { createCommandRing, type Command } from '../commands.js';
import type { DeviceLostIrq } from '../irq.js';
import { job, traced } from '../__fixtures__/sim.js';
import { createGucDevice, type GucDevice } from './device.js';
import type { GucConfig, GucIrq } from './types.js';

type Ev = GucIrq | DeviceLostIrq;

/** A GuC device with exact costs (units = ms, no fixed cost) and a recorded irq log. */
function setup(config: GucConfig = {}) {
  const { rt, sink } = traced();
  const dev = createGucDevice(rt, { cost: { render: { fixedMs: 0 }, compute: { fixedMs: 0 }, copy: { fixedMs: 0 } }, ...config });
  const irqs: Array<{ t: number; ev: Ev }> = [];
  dev.requestIrq((ev) => irqs.push({ t: rt.now(), ev }));
  const seq = dev.memory.allocNow('system', 4096, { name: 'seqnos' });
  return { rt, sink, dev, irqs, seq };
}

function g2h(irqs: Array<{ t: number; ev: Ev }>, type?: string) {
  return irqs.flatMap((i) => (i.ev.kind === 'g2h' && (type === undefined || i.ev.msg.type === type) ? [{ t: i.t, msg: i.ev.msg }] : []));
}

function completions(sink: { records: TraceRecord[] }, ctx: string): number[] {
  return sink.records.filter((r) => r.name === 'hw:batch' && r.ph === 'E' && (r.args as { ctx: string; end?: string }).ctx === ctx && (r.args as { end?: string }).end === 'completed').map((r) => r.ts);
}

function start(dev: GucDevice, id: number, cmds: Command[], opts: { cls?: 'render' | 'compute' | 'copy'; priority?: 0 | 1 | 2 | 3; timesliceMs?: number; minRunPeriodMs?: number; preemptTimeoutMs?: number } = {}) {
  const ring = createCommandRing(1024, `ring${id}`);
  dev.fw.registerContext({ id, engineClass: opts.cls ?? 'render', ring, ...(opts.priority === undefined ? {} : { priority: opts.priority }), ...(opts.timesliceMs === undefined ? {} : { timesliceMs: opts.timesliceMs }), ...(opts.minRunPeriodMs === undefined ? {} : { minRunPeriodMs: opts.minRunPeriodMs }), ...(opts.preemptTimeoutMs === undefined ? {} : { preemptTimeoutMs: opts.preemptTimeoutMs }) });
  ring.write(cmds);
  dev.fw.enableScheduling(id);
  return ring;
}

function errCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDepError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('GuC-like firmware', () => {
  it('answers enable with sched-done after the H2G and G2H latencies and runs the ring', async () => {
    const { rt, dev, irqs, seq } = setup({ h2gLatencyMs: 0.25, g2hLatencyMs: 0.5 });
    start(dev, 1, job(2, seq.addr, 7n, 42));
    await rt.runUntilIdle();
    const done = g2h(irqs, 'sched-done');
    expect(done).toEqual([{ t: 0.75, msg: { type: 'sched-done', ctxId: 1, enabled: true, runtimeMs: 0 } }]);
    const user = irqs.find((i) => i.ev.kind === 'user-interrupt')!;
    expect(user.t).toBe(2.25);
    expect(user.ev).toEqual({ kind: 'user-interrupt', ctxId: 1, engine: 'rcs0', data: 42 });
    expect(seq.read64(0)).toBe(7n);
    expect(dev.fw.runtimeMs(1)).toBe(2);
  });

  it('preempts for a higher priority after the victim\'s minimum run period, with the context-save latency', async () => {
    const { rt, sink, dev, seq } = setup({ h2gLatencyMs: 0, ctxSaveLatencyMs: 0.125 });
    start(dev, 1, [{ op: 'batch', units: 10 }, { op: 'seqnoWrite', addr: seq.addr, value: 1n }], { priority: 3, minRunPeriodMs: 2, timesliceMs: Infinity });
    await rt.advance(0.5);
    start(dev, 2, [{ op: 'batch', units: 1 }, { op: 'seqnoWrite', addr: seq.addr + 8, value: 1n }], { priority: 1 });
    await rt.runUntilIdle();
    const pre = sink.records.filter((r) => r.name === 'hw:preempt' && (r.args as { ctx: string }).ctx === 'guc1').map((r) => [r.ts, (r.args as { phase: string }).phase, (r.args as { latency?: number }).latency]);
    expect(pre).toEqual([
      [0.5, 'request', undefined],
      [2, 'start', undefined],
      [2.125, 'saved', 0.125],
    ]);
    expect(completions(sink, 'guc2')).toEqual([3.125]);
    // guc1 ran 2 ms, was saved, then ran its remaining 8 ms after guc2.
    expect(completions(sink, 'guc1')).toEqual([11.125]);
    expect(dev.fw.runtimeMs(1)).toBeCloseTo(10.125, 9);
    expect(dev.stats.preemptions).toBe(1);
  });

  it('without a minimum run period the preemption starts at once', async () => {
    const { rt, sink, dev } = setup({ h2gLatencyMs: 0, ctxSaveLatencyMs: 0.125 });
    start(dev, 1, [{ op: 'batch', units: 10 }], { priority: 3, timesliceMs: Infinity });
    await rt.advance(0.5);
    start(dev, 2, [{ op: 'batch', units: 1 }], { priority: 0 });
    await rt.runUntilIdle();
    expect(completions(sink, 'guc2')).toEqual([0.5 + 0.125 + 1]);
  });

  it('timeslices equal priorities: each is preempted when its slice ends and a peer waits', async () => {
    const { rt, sink, dev } = setup({ h2gLatencyMs: 0, ctxSaveLatencyMs: 0 });
    start(dev, 1, [{ op: 'batch', units: 4 }], { timesliceMs: 1 });
    start(dev, 2, [{ op: 'batch', units: 4 }], { timesliceMs: 1 });
    await rt.runUntilIdle();
    const slices = sink.records.filter((r) => r.name === 'hw:preempt' && (r.args as { phase: string }).phase === 'request').map((r) => [r.ts, (r.args as { ctx: string }).ctx, (r.args as { reason: string }).reason]);
    // They alternate every millisecond until one is alone.
    expect(slices.slice(0, 4)).toEqual([
      [1, 'guc1', 'timeslice'],
      [2, 'guc2', 'timeslice'],
      [3, 'guc1', 'timeslice'],
      [4, 'guc2', 'timeslice'],
    ]);
    expect(completions(sink, 'guc1')).toEqual([7]);
    expect(completions(sink, 'guc2')).toEqual([8]);
  });

  it('does not timeslice for a lower-priority waiter, and picks the highest priority first', async () => {
    const { rt, sink, dev } = setup({ h2gLatencyMs: 0, ctxSaveLatencyMs: 0 });
    start(dev, 1, [{ op: 'batch', units: 3 }], { priority: 2, timesliceMs: 1 });
    start(dev, 2, [{ op: 'batch', units: 1 }], { priority: 3 });
    start(dev, 3, [{ op: 'batch', units: 1 }], { priority: 2 });
    await rt.runUntilIdle();
    // guc3 (equal priority) takes a slice at 1; guc2 (lower) waits until both are done.
    expect(completions(sink, 'guc3')).toEqual([2]);
    expect(completions(sink, 'guc1')).toEqual([4]);
    expect(completions(sink, 'guc2')).toEqual([5]);
  });

  it('releases semaphore waits in order as the value passes each threshold', async () => {
    const { rt, sink, dev, seq } = setup({ h2gLatencyMs: 0, g2hLatencyMs: 0, engines: { render: 3 } });
    const sem = seq.addr + 512;
    for (const v of [3, 1, 2]) {
      start(dev, v, [{ op: 'semaphoreWait', addr: sem, value: BigInt(v) }, { op: 'seqnoWrite', addr: seq.addr + v * 8, value: 1n }]);
    }
    await rt.runUntilIdle();
    expect(sink.records.filter((r) => r.name === 'hw:semaphore' && (r.args as { state: string }).state === 'block').length).toBe(3);
    for (const v of [1n, 2n, 3n]) {
      dev.memory.write64(sem, v);
      await rt.advance(1);
    }
    const released = sink.records.filter((r) => r.name === 'hw:semaphore' && (r.args as { state: string }).state === 'release').map((r) => [r.ts, (r.args as { ctx: string }).ctx]);
    expect(released).toEqual([
      [0, 'guc1'],
      [1, 'guc2'],
      [2, 'guc3'],
    ]);
    expect([seq.read64(8), seq.read64(16), seq.read64(24)]).toEqual([1n, 1n, 1n]);
  });

  it('releases every waiter of one write in the order they blocked; eq waits only for the exact value', async () => {
    const { rt, sink, dev, seq } = setup({ h2gLatencyMs: 0, engines: { render: 1, compute: 4 } });
    const sem = seq.addr + 512;
    start(dev, 1, [{ op: 'semaphoreWait', addr: sem, value: 2n }, { op: 'interrupt', data: 1 }], { cls: 'compute' });
    start(dev, 2, [{ op: 'semaphoreWait', addr: sem, value: 1n }, { op: 'interrupt', data: 2 }], { cls: 'compute' });
    start(dev, 3, [{ op: 'semaphoreWait', addr: sem, value: 2n, compare: 'eq' }, { op: 'interrupt', data: 3 }], { cls: 'compute' });
    start(dev, 4, [{ op: 'semaphoreWait', addr: sem, value: 5n, compare: 'eq' }, { op: 'interrupt', data: 4 }], { cls: 'compute' });
    // A GPU-side writer on another engine: after 2 ms of work, write 2.
    start(dev, 5, [{ op: 'batch', units: 2 }, { op: 'seqnoWrite', addr: sem, value: 2n }], { cls: 'render' });
    await rt.runUntilIdle();
    const order = sink.records.filter((r) => r.name === 'hw:semaphore' && (r.args as { state: string }).state === 'release').map((r) => (r.args as { ctx: string }).ctx);
    expect(order).toEqual(['guc1', 'guc2', 'guc3']);
    expect(dev.fw.contextInfo(4)!.state).toBe('blocked');
    dev.memory.write64(sem, 6n);
    await rt.runUntilIdle();
    expect(dev.fw.contextInfo(4)!.state).toBe('blocked');
    dev.memory.write64(sem, 5n);
    await rt.runUntilIdle();
    expect(dev.fw.contextInfo(4)!.state).toBe('idle');
  });

  it('a context deregistered while blocked on a semaphore is not woken by a later write', async () => {
    const { rt, sink, dev, seq } = setup({ h2gLatencyMs: 0, g2hLatencyMs: 0 });
    start(dev, 1, [{ op: 'semaphoreWait', addr: seq.addr, value: 1n }, { op: 'interrupt' }]);
    await rt.runUntilIdle();
    expect(dev.fw.contextInfo(1)!.state).toBe('blocked');
    dev.fw.disableScheduling(1);
    dev.fw.deregisterContext(1);
    await rt.runUntilIdle();
    dev.memory.write64(seq.addr, 1n);
    await rt.runUntilIdle();
    expect(sink.records.filter((r) => r.name === 'hw:semaphore').map((r) => (r.args as { state: string }).state)).toEqual(['block']);
    expect(dev.fw.contextIds()).toEqual([]);
  });

  it('writes the ring read pointer with a protected fence and a user fence value', async () => {
    const { rt, dev, seq } = setup();
    const ring = start(dev, 1, [{ op: 'batch', units: 1 }, { op: 'userFenceWrite', addr: seq.addr + 64, value: 0xfeedn }, { op: 'protectedFence', addr: seq.addr + 72 }]);
    await rt.runUntilIdle();
    expect(seq.read64(64)).toBe(0xfeedn);
    expect(seq.read64(72)).toBe(BigInt(ring.wptr));
    expect(ring.wptr).toBe(4 + 6 + 4);
  });

  it('bans a context whose command faults on an unmapped address (context-reset G2H)', async () => {
    const { rt, dev, irqs, seq } = setup({ h2gLatencyMs: 0 });
    start(dev, 1, [{ op: 'batch', units: 1 }, { op: 'seqnoWrite', addr: 0x8, value: 1n }]);
    start(dev, 2, job(1, seq.addr, 1n));
    await rt.runUntilIdle();
    expect(g2h(irqs, 'context-reset').map((x) => x.msg)).toEqual([{ type: 'context-reset', ctxId: 1, engine: 'rcs0', reason: 'page-fault' }]);
    expect(dev.fw.contextInfo(1)!.banned).toBe(true);
    expect(seq.read64(0)).toBe(1n);
    expect(errCode(() => dev.fw.submit(1))).toBe('ECANCELED');
  });

  it('recovers a hung context by an engine reset when its preemption times out', async () => {
    const { rt, sink, dev, irqs, seq } = setup({ h2gLatencyMs: 0, g2hLatencyMs: 0, engineResetMs: 0.5 });
    dev.faults.hang({ site: 'guc1' });
    start(dev, 1, job(1, seq.addr, 1n), { timesliceMs: 1, preemptTimeoutMs: 5 });
    start(dev, 2, job(1, seq.addr + 8, 1n), { timesliceMs: 1 });
    await rt.runUntilIdle();
    expect(g2h(irqs, 'context-reset')).toEqual([{ t: 6, msg: { type: 'context-reset', ctxId: 1, engine: 'rcs0', reason: 'preempt-timeout' } }]);
    expect(sink.records.filter((r) => r.name === 'hw:reset').map((r) => r.ts)).toEqual([6]);
    // guc2 ran after the reset finished; guc1 never wrote its seqno.
    expect(completions(sink, 'guc2')).toEqual([7.5]);
    expect(seq.read64(8)).toBe(1n);
    expect(seq.read64(0)).toBe(0n);
    expect(dev.fw.contextInfo(1)).toMatchObject({ banned: true, state: 'error', engine: null });
    expect(dev.stats.resets).toBe(1);
    expect(dev.faults.injected.map((f) => f.kind)).toEqual(['hang']);
  });

  it('honours hang rules armed through the runtime\'s generic injector (rt.faults, kind hw-hang)', async () => {
    const { rt, dev, irqs, seq } = setup({ h2gLatencyMs: 0, g2hLatencyMs: 0 });
    rt.faults.add('hw-hang', { site: 'guc3' });
    start(dev, 3, job(1, seq.addr, 1n), { preemptTimeoutMs: 2 });
    await rt.advance(10);
    expect(seq.read64(0)).toBe(0n);
    dev.fw.disableScheduling(3);
    await rt.runUntilIdle();
    expect(g2h(irqs).map((x) => x.msg.type)).toEqual(['sched-done', 'context-reset', 'sched-done']);
    expect(dev.faults.injected).toEqual([{ kind: 'hang', site: 'guc3', time: 0 }]);
  });

  it('disable → sched-done, deregister → deregister-done; the id is reusable only after', async () => {
    const { rt, dev, irqs } = setup({ h2gLatencyMs: 0.25, g2hLatencyMs: 0.25 });
    start(dev, 5, [{ op: 'batch', units: 10 }], { timesliceMs: Infinity });
    await rt.advance(2);
    dev.fw.disableScheduling(5);
    dev.fw.deregisterContext(5);
    expect(errCode(() => dev.fw.registerContext({ id: 5, engineClass: 'copy', ring: createCommandRing(64) }))).toBe('EBUSY');
    await rt.runUntilIdle();
    const msgs = g2h(irqs).map((x) => [x.t, x.msg.type]);
    expect(msgs).toEqual([
      [0.5, 'sched-done'],
      [2 + 0.25 + 0.05 + 0.25, 'sched-done'],
      [2 + 0.25 + 0.05 + 0.25, 'deregister-done'],
    ]);
    const disabled = g2h(irqs, 'sched-done')[1]!.msg;
    expect(disabled).toMatchObject({ enabled: false });
    // ran from 0.25 (enable arrived) to 2.30 (disable arrived at 2.25, then a 0.05 ms save)
    expect((disabled as { runtimeMs: number }).runtimeMs).toBeCloseTo(2.05, 9);
    expect(dev.fw.contextInfo(5)).toBeNull();
    dev.fw.registerContext({ id: 5, engineClass: 'copy', ring: createCommandRing(64) });
    await rt.runUntilIdle();
    expect(dev.fw.contextIds()).toEqual([5]);
  });

  it('an injected firmware error is answered with an error G2H and leaves the context disabled', async () => {
    const { rt, sink, dev, irqs } = setup();
    dev.faults.firmwareError({ site: 'guc:enable-scheduling', nth: 1 });
    start(dev, 1, [{ op: 'batch', units: 1 }]);
    await rt.runUntilIdle();
    expect(g2h(irqs).map((x) => x.msg)).toEqual([{ type: 'error', action: 'enable-scheduling', ctxId: 1, status: -5 }]);
    expect(dev.fw.contextInfo(1)!.enabled).toBe(false);
    expect(sink.records.filter((r) => r.name === 'hw:batch').length).toBe(0);
    // The host view was rolled back: enabling again is legal and now works.
    dev.fw.enableScheduling(1);
    await rt.runUntilIdle();
    expect(dev.fw.contextInfo(1)!.enabled).toBe(true);
    expect(dev.fw.runtimeMs(1)).toBeGreaterThan(0);
  });

  it('a dropped reply: the GuC acts on the request, the host never hears back; the next reply arrives', async () => {
    const { rt, sink, dev, irqs } = setup();
    dev.faults.dropReply({ site: 'guc:sched-done', nth: 1 });
    start(dev, 1, [{ op: 'batch', units: 1 }]);
    await rt.runUntilIdle();
    expect(g2h(irqs).map((x) => x.msg), 'the enable\'s sched-done was lost').toEqual([]);
    expect(dev.fw.contextInfo(1)!.enabled, 'but scheduling was enabled').toBe(true);
    expect(sink.records.filter((r) => r.name === 'hw:batch').length, 'the batch ran').toBeGreaterThan(0);
    expect(dev.faults.injected.map((f) => [f.kind, f.site])).toEqual([['drop-reply', 'guc:sched-done']]);
    dev.fw.disableScheduling(1);
    await rt.runUntilIdle();
    expect(g2h(irqs).map((x) => x.msg.type)).toEqual(['sched-done']);
    expect(dev.fw.contextInfo(1)!.enabled).toBe(false);
  });

  it('rejects bad requests with the right errno and changes nothing', async () => {
    const { rt, dev } = setup({ maxContexts: 8, engines: { render: 1 } });
    const ring = createCommandRing(64);
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring });
    const snapshot = () => [dev.fw.h2gInFlight, dev.fw.contextIds().join(',')];
    const before = snapshot();
    const cases: Array<[string, () => void]> = [
      ['EINVAL', () => dev.fw.registerContext({ id: 8, engineClass: 'render', ring: createCommandRing(64) })],
      ['EINVAL', () => dev.fw.registerContext({ id: 2, engineClass: 'video', ring: createCommandRing(64) })],
      ['EINVAL', () => dev.fw.registerContext({ id: 2, engineClass: 'render', ring: {} as never })],
      ['EINVAL', () => dev.fw.registerContext({ id: 2, engineClass: 'render', ring: createCommandRing(64), priority: 7 as never })],
      ['EINVAL', () => dev.fw.registerContext({ id: 2, engineClass: 'render', ring: createCommandRing(64), timesliceMs: 0 })],
      ['EEXIST', () => dev.fw.registerContext({ id: 1, engineClass: 'render', ring: createCommandRing(64) })],
      ['EBUSY', () => dev.fw.registerContext({ id: 2, engineClass: 'render', ring })],
      ['ENOENT', () => dev.fw.enableScheduling(3)],
      ['ENOENT', () => dev.fw.submit(3)],
      ['EALREADY', () => dev.fw.disableScheduling(1)],
      ['EINVAL', () => dev.fw.setPolicies(1, { minRunPeriodMs: -1 })],
      ['ENOENT', () => dev.fw.resetEngine('ccs7')],
    ];
    for (const [want, fn] of cases) expect([want, errCode(fn)]).toEqual([want, want]);
    expect(snapshot()).toEqual(before);
    dev.fw.enableScheduling(1);
    expect(errCode(() => dev.fw.deregisterContext(1))).toBe('EBUSY');
    expect(errCode(() => dev.fw.enableScheduling(1))).toBe('EALREADY');
    await rt.runUntilIdle();
  });

  it('refuses H2G requests with EBUSY while the CT buffer is full', async () => {
    const { rt, dev } = setup({ h2gCapacity: 2 });
    const ring = createCommandRing(64);
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring });
    dev.fw.enableScheduling(1);
    expect(errCode(() => dev.fw.submit(1))).toBe('EBUSY');
    await rt.runUntilIdle();
    dev.fw.submit(1);
    expect(dev.fw.h2gInFlight).toBe(1);
    await rt.runUntilIdle();
  });

  it('a GT reset forgets every context; re-registered rings resume where they were', async () => {
    const { rt, dev, seq } = setup({ h2gLatencyMs: 0, gtResetMs: 2 });
    const ring = start(dev, 1, [...job(1, seq.addr, 1n), ...job(5, seq.addr, 2n)], { timesliceMs: Infinity });
    await rt.advance(3);
    expect(seq.read64(0)).toBe(1n);
    await rt.run(() => dev.fw.gtReset());
    expect(rt.now()).toBe(5);
    expect(dev.fw.contextIds()).toEqual([]);
    expect(ring.rptr).toBe(11); // the first job was consumed; the second batch restarts
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring });
    dev.fw.enableScheduling(1);
    await rt.runUntilIdle();
    expect(seq.read64(0)).toBe(2n);
    expect(rt.now()).toBe(10);
  });

  it('device lost: work stops, one device-lost interrupt, then ENODEV', async () => {
    const { rt, dev, irqs, seq } = setup();
    start(dev, 1, job(5, seq.addr, 1n));
    await rt.advance(1);
    dev.lose('surprise removal');
    await rt.runUntilIdle();
    expect(seq.read64(0)).toBe(0n);
    expect(irqs.map((i) => i.ev)).toContainEqual({ kind: 'device-lost', reason: 'surprise removal' });
    expect(irqs.filter((i) => i.ev.kind === 'user-interrupt')).toEqual([]);
    expect(errCode(() => dev.fw.submit(1))).toBe('ENODEV');
    expect(errCode(() => dev.fw.registerContext({ id: 2, engineClass: 'render', ring: createCommandRing(64) }))).toBe('ENODEV');
  });
});

describe('H2G channel order under chaos', () => {
  it('a register and an enable sent in the same instant arrive in order for every chaos seed', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rt = new Runtime({ chaos: true, seed });
      const dev = createGucDevice(rt);
      dev.requestIrq(() => undefined);
      await rt.run(async () => {
        dev.fw.registerContext({ id: 3, engineClass: 'render', ring: createCommandRing(64, 'ring3') });
        dev.fw.enableScheduling(3);
        await rt.sleep(1);
      });
      expect([seed, dev.fw.contextInfo(3)?.enabled]).toEqual([seed, true]);
    }
  });
});
