/**
 * The cross-thread user interrupt of a {@link MemoryFenceDriver}: while one of its fences
 * is waited on, sleep in `Atomics.waitAsync` on the 64-bit location and call the driver's
 * `notify()` when the value reaches the lowest pending fence. Real shared memory, another
 * thread writing it (a worker-thread user-mode driver, `@dep/user-fence/node`).
 *
 * The protocol with the writer (Dekker-style, every access sequentially consistent):
 * - writer: `Atomics.store(seqno)`, then `if (Atomics.load(waiters) !== 0) Atomics.notify(seqno)`
 *   — a notify costs ≈ 47 ns even with nobody waiting, so it is skipped when nobody is;
 * - waiter: `Atomics.add(waiters, 1)`, re-read the seqno, then `Atomics.waitAsync(seqno,
 *   value read)`, which returns at once if the value changed meanwhile.
 * Either the writer sees the waiter count or the waiter sees the new value: no lost wake-up.
 *
 * `Atomics.waitAsync` does not keep Node's event loop alive (nodejs/node#44729): while armed,
 * the waiter holds a ref'd interval handle, dropped when it disarms.
 */
import { DepError, type Runtime } from '@dep/kernel';
import type { MemoryFenceDriver } from './memory-fence.js';
import type { Slot } from './slot.js';

/** Options of the cross-thread wake-up of a {@link MemoryFenceDriver} (`options.atomics`). */
export interface AtomicsWakeOptions {
  /**
   * Byte offset, in the location's `SharedArrayBuffer` (not in the map), of the 32-bit
   * waiter count the writer reads before notifying (4-byte aligned, not overlapping the
   * seqno). A {@link Seq64Slot} gives it as `waitersOffset`.
   */
  readonly waitersOffset: number;
  /**
   * Opt-in low-latency mode: when a wait starts, spin up to this many µs re-reading the
   * location before sleeping in `Atomics.waitAsync` (a blocking cross-thread wake-up is a
   * ≈ 60 µs round trip on a small VM; spinning ≈ 0.3 µs, but it burns the main thread for
   * as long as it spins). Default 0 (no spinning).
   */
  readonly spinMicros?: number;
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (ta: BigInt64Array, index: number, value: bigint, timeout?: number) => WaitAsyncResult;

const i64Views = new WeakMap<SharedArrayBuffer, BigInt64Array>();
const i32Views = new WeakMap<SharedArrayBuffer, Int32Array>();
const KEEP_ALIVE_MS = 0x7fff_ffff;

function noop(): void {}

/** @internal See the module comment. */
export class AtomicsWaiter {
  readonly #driver: MemoryFenceDriver;
  readonly #u64: BigUint64Array;
  readonly #i64: BigInt64Array;
  readonly #index: number;
  readonly #i32: Int32Array;
  readonly #widx: number;
  readonly #spinMs: number;
  readonly #waitAsync: WaitAsync;
  #armed = false;
  /** A `waitAsync` promise is outstanding. */
  #pending = false;
  /** We raised the waiter count. */
  #counted = false;
  /** Spin once at the start of this armed period. */
  #spin = false;
  /** A ref'd interval while armed (created once, then ref()/unref(): ≈ 20 ns instead of ≈ 300). */
  #keepAlive: ReturnType<typeof setInterval> | null = null;
  readonly #run = (): void => { this.#loop(); };
  readonly #onWake = (): void => {
    this.#pending = false;
    this.#loop();
  };

  constructor(driver: MemoryFenceDriver, rt: Runtime, slot: Slot, options: AtomicsWakeOptions, who: string) {
    if (typeof options !== 'object' || options === null) {
      throw new DepError('EINVAL', `${who}: atomics must be { waitersOffset, spinMicros? }`);
    }
    const map = slot.map;
    if (!map.isShared) {
      throw new DepError('EINVAL', `${who}: atomics wake-ups need the location in a SharedArrayBuffer written by another thread; this map views an ArrayBuffer`);
    }
    const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
    if (typeof waitAsync !== 'function') {
      throw new DepError('ENOSYS', `${who}: this JavaScript engine has no Atomics.waitAsync; use notify() or polling instead`);
    }
    if (rt.executor.kind !== 'real') {
      throw new DepError('EINVAL', `${who}: atomics wake-ups come from another thread in real time; use a real-time runtime (new Runtime({ executor: 'real' }))`);
    }
    const buffer = map.buffer as SharedArrayBuffer;
    const w = options.waitersOffset;
    if (typeof w !== 'number' || !Number.isInteger(w) || w % 4 !== 0) {
      throw new DepError('EINVAL', `${who}: atomics.waitersOffset must be a 4-byte aligned integer offset in the buffer, got ${String(w)}`);
    }
    if (w < 0 || w + 4 > buffer.byteLength) {
      throw new DepError('EFAULT', `${who}: atomics.waitersOffset ${w} is outside the ${buffer.byteLength}-byte buffer`);
    }
    const seqAt = slot.index * 8;
    if (w + 4 > seqAt && w < seqAt + 8) {
      throw new DepError('EINVAL', `${who}: atomics.waitersOffset ${w} overlaps the seqno at ${seqAt}…${seqAt + 7}; put the waiter count beside it`);
    }
    const spin = options.spinMicros ?? 0;
    if (typeof spin !== 'number' || !(spin >= 0) || spin === Infinity) {
      throw new DepError('EINVAL', `${who}: atomics.spinMicros must be a finite number of µs ≥ 0, got ${String(spin)}`);
    }
    let i64 = i64Views.get(buffer);
    if (i64 === undefined) i64Views.set(buffer, (i64 = new BigInt64Array(buffer, 0, Math.floor(buffer.byteLength / 8))));
    let i32 = i32Views.get(buffer);
    if (i32 === undefined) i32Views.set(buffer, (i32 = new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4))));
    this.#driver = driver;
    this.#u64 = slot.view;
    this.#i64 = i64;
    this.#index = slot.index;
    this.#i32 = i32;
    this.#widx = w / 4;
    this.#spinMs = spin / 1000;
    this.#waitAsync = waitAsync;
  }

  /** Start waking the driver (called when a fence becomes waited on; may be under its lock). */
  arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    const k = this.#keepAlive;
    if (k === null) this.#keepAlive = setInterval(noop, KEEP_ALIVE_MS);
    else if (typeof k === 'object' && typeof k.ref === 'function') k.ref();
    if (this.#spinMs > 0) {
      // Spin outside the caller (which may hold a fence lock, and whose next statement may
      // be the very write that would end the spin).
      this.#spin = true;
      queueMicrotask(this.#run);
      return;
    }
    this.#loop();
  }

  /**
   * The driver's walk ran (after a notify): if fences are still waited on, watch for the
   * next value. Any context.
   */
  poke(): void {
    if (this.#armed && !this.#pending) this.#loop();
  }

  /** Drop the keep-alive handle for good (the driver's teardown). */
  close(): void {
    this.disarm();
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }

  /** Stop (no fence waited on any more): drop the waiter count, the keep-alive and our sleeping wait. */
  disarm(): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.#spin = false;
    if (this.#counted) {
      this.#counted = false;
      Atomics.sub(this.#i32, this.#widx, 1);
    }
    const k = this.#keepAlive;
    if (k !== null) {
      // Node: unref (the handle stays, unref'd, for the next arm); elsewhere: clear it.
      if (typeof k === 'object' && typeof k.unref === 'function') k.unref();
      else {
        clearInterval(k);
        this.#keepAlive = null;
      }
    }
    // Wake our own outstanding waitAsync so it does not linger in the waiter list.
    if (this.#pending) Atomics.notify(this.#i64, this.#index);
  }

  #loop(): void {
    const driver = this.#driver;
    while (this.#armed) {
      const head = driver._head();
      if (head === null) return;
      let v = Atomics.load(this.#u64, this.#index);
      if (v >= head) {
        // Reached: raise the user interrupt; the driver's walk pokes us if more is waited on.
        driver.notify();
        return;
      }
      if (this.#spin) {
        this.#spin = false;
        const end = performance.now() + this.#spinMs;
        for (let k = 1; ; k++) {
          v = Atomics.load(this.#u64, this.#index);
          if (v >= head) break;
          if ((k & 63) === 0 && performance.now() >= end) break;
        }
        if (v >= head) continue;
      }
      if (this.#pending) return; // a wait is outstanding: it resumes the loop
      if (!this.#counted) {
        Atomics.add(this.#i32, this.#widx, 1);
        this.#counted = true;
        continue; // re-read after raising the count
      }
      const r = this.#waitAsync(this.#i64, this.#index, BigInt.asIntN(64, v));
      if (r.async) {
        this.#pending = true;
        void r.value.then(this.#onWake);
        return;
      }
      // 'not-equal': it moved between the load and the wait; look again.
    }
  }
}
