// Shared setup of the user-fence benchmarks: a seq64 area in a SharedArrayBuffer and a
// worker-thread user-mode driver echoing pings (real shared memory, a real second thread).
import { IosysMap, Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { MemoryFenceDriver, Seq64Area, UserFenceTdr, type Seq64Slot } from '@dep/user-fence';
import { UserModeDriverThread } from '@dep/user-fence/node';

export interface Echo {
  readonly area: Seq64Area;
  readonly ping: Seq64Slot;
  readonly pong: Seq64Slot;
  readonly u64: BigUint64Array;
  readonly i64: BigInt64Array;
  readonly umd: UserModeDriverThread;
  /** Last value sent. */
  v: bigint;
}

/**
 * The echo thread: waits on `ping` (Atomics.wait, or spinning) and copies each new value
 * into `pong`, notifying `pong` only if its waiter count is non-zero. Unref'd so the
 * benchmark process exits when done.
 */
export async function startEcho(spin: boolean): Promise<Echo> {
  const area = new Seq64Area({ slots: 4, shared: true });
  const ping = area.alloc();
  const pong = area.alloc();
  const umd = await UserModeDriverThread.start(area.buffer as SharedArrayBuffer, { name: 'bench-echo' });
  umd.unref();
  void umd.echo({ pingOffset: ping.offset, pong: { offset: pong.offset, waitersOffset: pong.waitersOffset }, count: 1e9, spin }).catch(() => undefined);
  return {
    area,
    ping,
    pong,
    u64: new BigUint64Array(area.buffer, 0, area.slots),
    i64: new BigInt64Array(area.buffer, 0, area.slots),
    umd,
    v: 0n,
  };
}

/** A memory-fence driver over the pong slot, woken by Atomics.waitAsync (optionally spinning first). */
export function pongDriver(e: Echo, options: { spinMicros?: number; tdr?: boolean } = {}): MemoryFenceDriver {
  const rt = new Runtime({ executor: 'real', checks: 'off' });
  return new MemoryFenceDriver(e.pong.user, 0, {
    runtime: rt,
    poll: null,
    tdr: new UserFenceTdr({ runtime: rt, timeout: options.tdr === true ? 5000 : Infinity }),
    atomics: { waitersOffset: e.pong.waitersOffset, spinMicros: options.spinMicros ?? 0 },
  });
}

function resolveOnSignal(_f: Fence, resolve: () => void): void {
  resolve();
}

/**
 * One round trip through a memory fence, in the raw baseline's order: ping, then wait —
 * a fence for the value the echo will write, and its callback.
 */
export function fenceRoundTrip(e: Echo, drv: MemoryFenceDriver, notifyPing: boolean): Promise<void> {
  const v = ++e.v;
  Atomics.store(e.u64, e.ping.index, v);
  if (notifyPing) Atomics.notify(e.i64, e.ping.index);
  const f = drv.createFence(v);
  return new Promise<void>((resolve) => {
    if (!f.addCallback(resolveOnSignal, resolve)) resolve();
  });
}

type WaitAsync = (ta: BigInt64Array, i: number, v: bigint) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** One raw round trip: ping, then Atomics.waitAsync on pong until it carries the value. */
export async function rawRoundTrip(e: Echo): Promise<void> {
  const v = ++e.v;
  const pong = e.pong.index;
  Atomics.store(e.u64, e.ping.index, v);
  Atomics.notify(e.i64, e.ping.index);
  for (let cur = Atomics.load(e.u64, pong); cur !== v; cur = Atomics.load(e.u64, pong)) {
    const r = waitAsync(e.i64, pong, BigInt.asIntN(64, cur));
    if (r.async) await r.value;
  }
}

/** Keep the pong waiter count at 1 (the raw baselines always wait). */
export function alwaysWaiting(e: Echo): void {
  new Int32Array(e.area.buffer, e.pong.waitersOffset, 1)[0] = 1;
}

const ops: DmaFenceOps = { getDriverName: () => 'bench', getTimelineName: () => 'bench' };

/** A checks-off runtime, a shared 64-bit location and a fence factory (write-cost groups). */
export function writeSetup(): { rt: Runtime; map: IosysMap; u64: BigUint64Array; fence: (seqno: bigint) => DmaFence } {
  const rt = new Runtime({ checks: 'off' });
  const buffer = new SharedArrayBuffer(64);
  const ctx = contextAlloc(1, rt);
  return { rt, map: new IosysMap(buffer), u64: new BigUint64Array(buffer), fence: (s) => new DmaFence(ops, ctx, s, { runtime: rt }) };
}
