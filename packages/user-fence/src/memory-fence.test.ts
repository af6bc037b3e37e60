// Memory → fence (rfc-designs C.2, C.3): a fence that signals when its location reaches
// `>= value`, found by notify (the user interrupt), the `signaled` op, or polling while
// waited on; bounded by the VM-wide user-fence TDR (-ETIME at the deadline, then a kill).
import { DepError, IosysMap, MemoryTraceSink, Runtime, Timer } from '@dep/kernel';
import { fenceLabel, type Fence } from '@dep/dma-fence';
import { describe, expect, it } from 'vitest';
import { MemoryFenceDriver, Seq64Area, USER_FENCE_TIMEOUT, UserFenceTdr, type UserFenceKill } from './index.js';

function setup(options: { poll?: number | null; timeout?: number; kill?: (i: UserFenceKill) => void } = {}) {
  const rt = new Runtime();
  const mem = new IosysMap(new ArrayBuffer(64));
  const tdr = new UserFenceTdr({ runtime: rt, timeout: options.timeout ?? USER_FENCE_TIMEOUT, ...(options.kill ? { kill: options.kill } : {}) });
  const drv = new MemoryFenceDriver(mem, 8, { runtime: rt, name: 'q0', tdr, poll: options.poll === undefined ? 10 : options.poll });
  /** The "hardware": write a seqno at a virtual time, optionally raising the user interrupt. */
  const writeAt = (ms: number, v: bigint, irq = true): void => {
    new Timer(rt, () => {
      mem.store64(8, v);
      if (irq) drv.notify();
    }).mod(ms);
  };
  return { rt, mem, tdr, drv, writeAt };
}

function expectDepError(fn: () => unknown, code: string, text?: RegExp): DepError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DepError);
  expect((err as DepError).code).toBe(code);
  if (text !== undefined) expect((err as DepError).message).toMatch(text);
  return err as DepError;
}

describe('memory fence: >= value, found on notify', () => {
  it('signals on the user interrupt once the location reaches its value; an earlier interrupt does nothing', async () => {
    const { rt, drv, writeAt } = setup({ poll: null });
    const f = drv.createFence(5n);
    writeAt(1, 4n);
    writeAt(2, 6n);
    await rt.advance(1);
    expect(f.testSignaledFlag()).toBe(false);
    await rt.advance(1);
    expect(f.getStatus()).toBe(1);
    expect(f.timestamp()).toBe(2);
  });

  it('the walk is in order and stops at the first unreached fence', async () => {
    const { rt, drv, mem } = setup({ poll: null });
    const fences = [3n, 1n, 7n, 5n, 5n].map((v) => drv.createFence(v));
    const order: bigint[] = [];
    for (const f of fences) f.addCallback((g) => order.push(g.seqno));
    mem.store64(8, 5n);
    expect(drv.process()).toBe(4);
    expect(order).toEqual([1n, 3n, 5n, 5n]);
    expect(drv.pending).toBe(1);
    expect(fences[2]!.testSignaledFlag()).toBe(false);
    await rt.runUntilIdle();
  });

  it('a value already reached at creation gives a signalled fence', () => {
    const { drv, mem } = setup();
    mem.store64(8, 10n);
    const f = drv.createFence(10n);
    expect(f.getStatus()).toBe(1);
    expect(drv.pending).toBe(0);
  });

  it('notifies are coalesced into one walk at the instant, in irq context', async () => {
    const { rt, drv, mem } = setup({ poll: null });
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const f = drv.createFence(1n);
    let ctx = '';
    f.addCallback(() => { ctx = rt.context; });
    mem.store64(8, 1n);
    drv.notify();
    drv.notify();
    drv.notify();
    await rt.runUntilIdle();
    expect(ctx).toBe('irq');
    expect(sink.named('irq:irq_handler_entry')).toHaveLength(1);
  });

  it('64-bit values compare as u64 (no 32-bit wrap)', () => {
    const { drv, mem } = setup();
    const f = drv.createFence(0x1_0000_0000n);
    mem.store64(8, 0xffff_ffffn);
    drv.process();
    expect(f.testSignaledFlag()).toBe(false);
    mem.store64(8, 0x1_0000_0000n);
    drv.process();
    expect(f.testSignaledFlag()).toBe(true);
  });

  it('reports name the fence driver:timeline context:value', () => {
    const { drv } = setup();
    const f = drv.createFence(42n);
    expect(fenceLabel(f)).toBe(`user_fence:q0 ${drv.context}:42`);
  });
});

describe('memory fence: without notify', () => {
  it('isSignaled() reads the location (the signaled op), without enabling signalling', () => {
    const { drv, mem } = setup();
    const f = drv.createFence(2n);
    expect(f.isSignaled()).toBe(false);
    mem.store64(8, 2n);
    expect(f.isSignaled()).toBe(true);
    expect(drv.pending).toBe(0);
  });

  it('polling fallback: a waited-on fence signals within one poll interval of the write', async () => {
    const { rt, drv, writeAt } = setup({ poll: 10 });
    const f = drv.createFence(1n);
    writeAt(33, 1n, false); // no interrupt
    const r = await rt.run(async () => f.waitTimeout(1000));
    expect(r).toBeGreaterThan(0);
    expect(f.timestamp()).toBe(40);
    expect(drv.waited).toBe(0);
  });

  it('no polling before anyone waits: an unwaited fence is found only by notify or isSignaled', async () => {
    const { rt, drv, mem } = setup({ poll: 10, timeout: Infinity });
    const f = drv.createFence(1n);
    mem.store64(8, 1n);
    await rt.advance(100);
    expect(f.testSignaledFlag()).toBe(false);
    expect(f.isSignaled()).toBe(true);
  });

  it('poll: null and no notify: the fence is found only by the TDR', async () => {
    const { rt, drv, writeAt } = setup({ poll: null });
    const f = drv.createFence(1n);
    writeAt(5, 1n, false);
    const r = await rt.run(async () => f.waitTimeout(Infinity));
    expect(r).toBe(Infinity);
    expect(f.getStatus()).toBe(-62);
    expect(rt.now()).toBe(USER_FENCE_TIMEOUT);
  });

  it('enable signalling when the value is already there: signalled at once, nothing armed', async () => {
    const { rt, drv, mem } = setup();
    const f = drv.createFence(3n);
    mem.store64(8, 3n);
    expect(f.addCallback(() => {})).toBe(false);
    expect(f.testSignaledFlag()).toBe(true);
    expect(drv.waited).toBe(0);
    const idle = await rt.runUntilIdle();
    expect(idle.now).toBe(0); // no deadline or poll timer left behind
  });
});

describe('user-fence TDR (VM-wide)', () => {
  it('at the deadline every unsignalled fence of the VM gets -ETIME, then the kill hook runs once, in a worker', async () => {
    const kills: Array<{ info: UserFenceKill; ctx: string; now: number }> = [];
    const { rt, drv, tdr } = setup({ kill: (info) => { kills.push({ info, ctx: rt.context, now: rt.now() }); } });
    const other = new MemoryFenceDriver(new IosysMap(new ArrayBuffer(8)), 0, { runtime: rt, name: 'q1', tdr });
    const late = setup().rt; // unrelated runtime: untouched
    await rt.advance(1000);
    const a = drv.createFence(1n);
    const b = other.createFence(1n);
    await rt.advance(3000);
    const c = drv.createFence(2n); // younger: its own deadline is later, but the VM dies with a
    await rt.runUntilIdle();
    expect(a.getStatus()).toBe(-62);
    expect(b.getStatus()).toBe(-62);
    expect(c.getStatus()).toBe(-62);
    expect(a.timestamp()).toBe(6000);
    expect(c.timestamp()).toBe(6000);
    expect(kills).toHaveLength(1);
    expect(kills[0]!.ctx).toBe('worker');
    expect(kills[0]!.info.fences).toBe(3);
    expect(kills[0]!.info.fence).toBe(a);
    expect(tdr.killed?.time).toBe(6000);
    expectDepError(() => drv.createFence(9n), 'ECANCELED', /killed by its user-fence TDR/);
    expect(late.now()).toBe(0);
  });

  it('a fence that signals in time disarms its deadline: nothing fires, time does not jump to 5 s', async () => {
    const killed: unknown[] = [];
    const { rt, drv, writeAt } = setup({ kill: (i) => { killed.push(i); } });
    const f = drv.createFence(1n);
    writeAt(20, 1n);
    const idle = await rt.runUntilIdle();
    expect(f.getStatus()).toBe(1);
    expect(idle.now).toBe(20);
    expect(killed).toHaveLength(0);
  });

  it('the expiry runs inside the signalling annotation: a callback that allocates GFP_KERNEL is reported', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const drv = new MemoryFenceDriver(new IosysMap(new ArrayBuffer(8)), 0, { runtime: rt });
    const f = drv.createFence(1n);
    f.addCallback(() => { rt.alloc('GFP_KERNEL', 'bad_alloc_in_callback'); });
    await rt.runUntilIdle();
    expect(f.getStatus()).toBe(-62);
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' || r.kind === 'context')).toBe(true);
  });

  it('timeout: Infinity disables the TDR', async () => {
    const { rt, drv } = setup({ timeout: Infinity, poll: null });
    const f = drv.createFence(1n);
    const idle = await rt.runUntilIdle();
    expect(idle.now).toBe(0);
    expect(f.testSignaledFlag()).toBe(false);
  });

  it('the trace shows the expiry', async () => {
    const { rt, drv } = setup({ poll: null });
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    drv.createFence(4n);
    await rt.runUntilIdle();
    expect(sink.named('user_fence:tdr').map((r) => r.args)).toEqual([{ tdr: 'user-fence-tdr', context: drv.context, seqno: 4n, fences: 1 }]);
  });
});

describe('teardown and allocation', () => {
  it('fini: every unsignalled fence gets -ECANCELED; new fences are ENODEV', async () => {
    const { rt, drv } = setup();
    const f = drv.createFence(1n);
    const waiter = rt.spawn('waiter', () => f.wait());
    await rt.advance(5);
    drv.fini();
    drv.fini();
    await rt.runUntilIdle();
    expect(waiter.finished).toBe(true);
    expect(f.getStatus()).toBe(-125);
    expect(drv.dead).toBe(true);
    expectDepError(() => drv.createFence(2n), 'ENODEV');
  });

  it('createFence under fault injection: ENOMEM, nothing pending, nothing armed', async () => {
    const { rt, drv } = setup();
    rt.faults.failAlloc({ site: 'user_fence_create' });
    expectDepError(() => drv.createFence(1n), 'ENOMEM');
    expect(drv.pending).toBe(0);
    expect((await rt.runUntilIdle()).now).toBe(0);
  });

  it('a task waiting on a fence never written is listed by the stall watchdog with the fence', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const drv = new MemoryFenceDriver(new IosysMap(new ArrayBuffer(8)), 0, { runtime: rt, poll: null, tdr: new UserFenceTdr({ runtime: rt, timeout: Infinity }) });
    const f: Fence = drv.createFence(3n);
    rt.spawn('waiter', () => f.wait());
    const idle = await rt.runUntilIdle();
    expect(idle.stalled).toHaveLength(1);
    const stall = rt.reports.list.find((r) => r.kind === 'stall')!;
    expect(stall.details.join('\n')).toContain(`user_fence:user-fence ${drv.context}:3`);
  });
});

describe('over a seq64 slot: the device writes, the user maps read-only', () => {
  it('a driver over the user (read-only) view sees the device writes', async () => {
    const rt = new Runtime();
    const area = new Seq64Area({ runtime: rt, slots: 4 });
    const slot = area.alloc();
    const drv = new MemoryFenceDriver(slot.user, 0, { runtime: rt });
    const f = drv.createFence(2n);
    slot.device.store64(0, 2n);
    drv.notify();
    await rt.runUntilIdle();
    expect(f.getStatus()).toBe(1);
    expectDepError(() => slot.user.store64(0, 1n), 'EACCES');
  });
});

describe('bad input is a DepError and changes nothing', () => {
  it('createFence: a value that is not a u64 bigint', () => {
    const { drv } = setup();
    expectDepError(() => drv.createFence(-1n), 'EINVAL');
    expectDepError(() => drv.createFence(1n << 64n), 'EINVAL');
    expectDepError(() => drv.createFence(3 as unknown as bigint), 'EINVAL', /u64 bigint/);
    expect(drv.pending).toBe(0);
  });

  it('the driver: location, poll, names, TDR', () => {
    const rt = new Runtime();
    const m = new IosysMap(new ArrayBuffer(16));
    expectDepError(() => new MemoryFenceDriver(m, 4, { runtime: rt }), 'EINVAL', /aligned/);
    expectDepError(() => new MemoryFenceDriver(m, 16, { runtime: rt }), 'EFAULT');
    expectDepError(() => new MemoryFenceDriver({} as IosysMap, 0, { runtime: rt }), 'EINVAL');
    expectDepError(() => new MemoryFenceDriver(m, 0, { runtime: rt, poll: 0 }), 'EINVAL', /poll/);
    expectDepError(() => new MemoryFenceDriver(m, 0, { runtime: rt, name: '' }), 'EINVAL');
    expectDepError(() => new MemoryFenceDriver(m, 0, { runtime: rt, tdr: {} as UserFenceTdr }), 'EINVAL');
    expectDepError(() => new MemoryFenceDriver(m, 0, { runtime: rt, tdr: new UserFenceTdr({ runtime: new Runtime() }) }), 'EINVAL', /runtime/);
    expectDepError(() => new UserFenceTdr({ timeout: 0 }), 'EINVAL');
    expectDepError(() => new UserFenceTdr({ kill: 5 as unknown as () => void }), 'EINVAL');
  });

  it('atomics: needs a SharedArrayBuffer, a real-time runtime, a sane waiter count offset', () => {
    const virt = new Runtime();
    const real = new Runtime({ executor: 'real' });
    const sab = new SharedArrayBuffer(32);
    expectDepError(() => new MemoryFenceDriver(new IosysMap(new ArrayBuffer(16)), 0, { runtime: real, atomics: { waitersOffset: 8 } }), 'EINVAL', /SharedArrayBuffer/);
    expectDepError(() => new MemoryFenceDriver(new IosysMap(sab), 0, { runtime: virt, atomics: { waitersOffset: 8 } }), 'EINVAL', /real-time runtime/);
    expectDepError(() => new MemoryFenceDriver(new IosysMap(sab), 0, { runtime: real, atomics: { waitersOffset: 4 } }), 'EINVAL', /overlaps/);
    expectDepError(() => new MemoryFenceDriver(new IosysMap(sab), 0, { runtime: real, atomics: { waitersOffset: 10 } }), 'EINVAL', /aligned/);
    expectDepError(() => new MemoryFenceDriver(new IosysMap(sab), 0, { runtime: real, atomics: { waitersOffset: 32 } }), 'EFAULT');
    expectDepError(() => new MemoryFenceDriver(new IosysMap(sab), 0, { runtime: real, atomics: { waitersOffset: 8, spinMicros: -1 } }), 'EINVAL', /spinMicros/);
  });
});
