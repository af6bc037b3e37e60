// Across threads, real shared memory: a worker_threads user-mode driver writes seqnos into a
// SharedArrayBuffer; the main thread's memory fences signal from Atomics.waitAsync/notify.
// No polling (poll: null) and no TDR: only the cross-thread wake-up can signal them.
import { DepError, Runtime } from '@dep/kernel';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryFenceDriver, Seq64Area, UserFenceTdr, type Seq64Slot } from './index.js';
import { UserModeDriverThread } from './node.js';

const threads: UserModeDriverThread[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.terminate()));
});

async function setup(spinMicros = 0): Promise<{ rt: Runtime; area: Seq64Area; slot: Seq64Slot; drv: MemoryFenceDriver; umd: UserModeDriverThread }> {
  const rt = new Runtime({ executor: 'real' });
  const area = new Seq64Area({ runtime: rt, slots: 8 });
  const slot = area.alloc();
  const drv = new MemoryFenceDriver(slot.user, 0, {
    runtime: rt,
    name: 'umd-queue',
    poll: null,
    tdr: new UserFenceTdr({ runtime: rt, timeout: Infinity }),
    atomics: { waitersOffset: slot.waitersOffset, spinMicros },
  });
  const umd = await UserModeDriverThread.start(area.buffer as SharedArrayBuffer, { name: 'umd-test' });
  threads.push(umd);
  return { rt, area, slot, drv, umd };
}

function waiters(area: Seq64Area, slot: Seq64Slot): number {
  return Atomics.load(new Int32Array(area.buffer, slot.waitersOffset, 1), 0);
}

describe('cross-thread memory fences', () => {
  it('a fence on the main thread signals when the worker thread writes its value (waitAsync + notify)', async () => {
    const { rt, area, slot, drv, umd } = await setup();
    const f = drv.createFence(5n);
    const done = rt.spawn('waiter', () => f.wait(), { joinable: true });
    await new Promise((r) => setTimeout(r, 5));
    expect(f.testSignaledFlag()).toBe(false);
    expect(waiters(area, slot)).toBe(1); // the main thread sleeps in waitAsync
    await umd.run({ offset: slot.offset, waitersOffset: slot.waitersOffset, from: 1n, count: 5, intervalMs: 1 });
    await rt.runUntilIdle();
    expect(await done.join()).toBe(0);
    expect(f.getStatus()).toBe(1);
    expect(drv.read()).toBe(5n);
    expect(waiters(area, slot)).toBe(0); // disarmed: the writer stops notifying
  });

  it('many fences complete in seqno order as the thread writes them', async () => {
    const { rt, slot, drv, umd } = await setup();
    const seen: bigint[] = [];
    const fences = Array.from({ length: 50 }, (_, i) => drv.createFence(BigInt(i + 1)));
    for (const f of fences) f.addCallback((g) => seen.push(g.seqno));
    await umd.run({ offset: slot.offset, waitersOffset: slot.waitersOffset, from: 1n, count: 50 });
    while (drv.pending > 0) await new Promise((r) => setTimeout(r, 1));
    await rt.runUntilIdle();
    expect(seen).toEqual(fences.map((f) => f.seqno));
  });

  it('a ref\'d handle keeps Node alive only while a fence is waited on', async () => {
    const { rt, slot, drv, umd } = await setup();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // Other tests' timers may come and go across awaits: compare only counts taken
    // synchronously around our own arm, where nothing else can run.
    const before = timers();
    const f = drv.createFence(1n);
    f.addCallback(() => {});
    expect(timers()).toBe(before + 1);
    await umd.write(slot, 1n);
    while (!f.testSignaledFlag()) await new Promise((r) => setTimeout(r, 1));
    await rt.runUntilIdle();
    // Released: arming again refs the handle anew (+1); were it still ref'd, the count would not move.
    const idle = timers();
    const g = drv.createFence(2n);
    g.addCallback(() => {});
    expect(timers()).toBe(idle + 1);
    await umd.write(slot, 2n);
    while (!g.testSignaledFlag()) await new Promise((r) => setTimeout(r, 1));
    await rt.runUntilIdle();
  });

  it('opt-in spinning: signals without sleeping when the write comes within the spin', async () => {
    const { rt, area, slot, drv, umd } = await setup(200_000);
    const f = drv.createFence(3n);
    f.addCallback(() => {});
    const writing = umd.run({ offset: slot.offset, waitersOffset: slot.waitersOffset, from: 1n, count: 3 });
    while (!f.testSignaledFlag()) await new Promise((r) => setTimeout(r, 0));
    await writing;
    await rt.runUntilIdle();
    expect(f.getStatus()).toBe(1);
    expect(waiters(area, slot)).toBe(0);
  });

  it('the thread echoes pings (the benchmark round trip)', async () => {
    const { rt, area, umd } = await setup();
    const ping = area.alloc();
    const pong = area.alloc();
    const u64 = new BigUint64Array(area.buffer, 0, area.slots);
    const i64 = new BigInt64Array(area.buffer, 0, area.slots);
    const echo = umd.echo({ pingOffset: ping.offset, pong: { offset: pong.offset }, count: 3 });
    for (let v = 1n; v <= 3n; v++) {
      Atomics.store(u64, ping.index, v);
      Atomics.notify(i64, ping.index);
      while (Atomics.load(u64, pong.index) !== v) await new Promise((r) => setTimeout(r, 0));
    }
    await echo;
    await rt.runUntilIdle();
  });
});

describe('UserModeDriverThread: bad input', () => {
  it('rejects what is not shared memory or not a seqno location, before sending anything', async () => {
    await expect(UserModeDriverThread.start(new ArrayBuffer(8) as unknown as SharedArrayBuffer)).rejects.toMatchObject({ code: 'EINVAL' });
    const umd = await UserModeDriverThread.start(new SharedArrayBuffer(32));
    threads.push(umd);
    const bad = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        return (e as DepError).code;
      }
      return 'none';
    };
    expect(bad(() => umd.write({ offset: 4 }, 1n))).toBe('EINVAL');
    expect(bad(() => umd.write({ offset: 32 }, 1n))).toBe('EFAULT');
    expect(bad(() => umd.write({ offset: 0, waitersOffset: 2 }, 1n))).toBe('EINVAL');
    expect(bad(() => umd.write({ offset: 0 }, -1n))).toBe('EINVAL');
    expect(bad(() => umd.run({ offset: 0, from: 1n, count: 0 }))).toBe('EINVAL');
    expect(bad(() => umd.run({ offset: 0, from: (1n << 64n) - 1n, count: 2 }))).toBe('EINVAL');
    expect(bad(() => umd.echo({ pingOffset: 0, pong: { offset: 0 }, count: 1 }))).toBe('EINVAL');
    expect(new BigUint64Array(umd.buffer).every((v) => v === 0n)).toBe(true);
    await umd.write({ offset: 8 }, 7n);
    expect(new BigUint64Array(umd.buffer)[1]).toBe(7n);
  });

  it('after terminate, commands reject with ESRCH', async () => {
    const umd = await UserModeDriverThread.start(new SharedArrayBuffer(16));
    await umd.terminate();
    await expect(umd.write({ offset: 0 }, 1n)).rejects.toMatchObject({ code: 'ESRCH' });
  });
});
