// @dep/user-fence/node: the parts that need Node (worker_threads). Everything else is in
// the package entry, which runs in browsers too.
import { Worker } from 'node:worker_threads';
import { DepError } from '@dep/kernel';

/** Options of {@link UserModeDriverThread.start}. */
export interface UserModeDriverThreadOptions {
  /** Thread name (shows in debuggers and `process.report`). Default `'umd'`. */
  readonly name?: string;
}

/** Where a seqno write lands: the 64-bit location and, optionally, its waiter count. */
export interface SharedSeqnoTarget {
  /** Byte offset of the 64-bit seqno in the buffer (8-byte aligned). */
  readonly offset: number;
  /**
   * Byte offset of the 32-bit waiter count (4-byte aligned): after each store the thread
   * calls `Atomics.notify` on the seqno only if this count is non-zero. Omitted: never
   * notify (the reader must poll).
   */
  readonly waitersOffset?: number;
}

/** Options of {@link UserModeDriverThread.run}. */
export interface UserModeRunOptions extends SharedSeqnoTarget {
  /** First value written. */
  readonly from: bigint;
  /** Number of writes (≥ 1). */
  readonly count: number;
  /** Added to the value after each write. Default 1n. */
  readonly step?: bigint;
  /** Real milliseconds the thread sleeps (`Atomics.wait`) before each write. Default 0. */
  readonly intervalMs?: number;
}

/** Options of {@link UserModeDriverThread.echo}. */
export interface UserModeEchoOptions {
  /** The 64-bit location the main thread writes (and notifies). */
  readonly pingOffset: number;
  /** Where the thread writes back each new ping value. */
  readonly pong: SharedSeqnoTarget;
  /** Number of round trips. */
  readonly count: number;
  /** Spin on the ping location instead of sleeping in `Atomics.wait` (burns the thread's core). Default false. */
  readonly spin?: boolean;
}

// The thread's code: plain JavaScript (an eval'd worker runs no TypeScript), self-contained.
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const buf = workerData.buffer;
const u64 = new BigUint64Array(buf, 0, Math.floor(buf.byteLength / 8));
const i64 = new BigInt64Array(buf, 0, Math.floor(buf.byteLength / 8));
const i32 = new Int32Array(buf, 0, Math.floor(buf.byteLength / 4));
const nap = new Int32Array(new SharedArrayBuffer(4));
function write(off, woff, v) {
  Atomics.store(u64, off / 8, v);
  if (woff >= 0 && Atomics.load(i32, woff / 4) !== 0) Atomics.notify(i64, off / 8);
}
function sleep(ms) {
  if (ms > 0) Atomics.wait(nap, 0, 0, ms);
}
const ops = {
  write(m) { write(m.offset, m.waitersOffset, m.value); },
  run(m) {
    let v = m.from;
    for (let k = 0; k < m.count; k++) {
      sleep(m.intervalMs);
      write(m.offset, m.waitersOffset, v);
      v += m.step;
    }
  },
  echo(m) {
    const ping = m.pingOffset / 8;
    let last = Atomics.load(u64, m.pongOffset / 8);
    for (let k = 0; k < m.count; k++) {
      let v = Atomics.load(u64, ping);
      if (m.spin) {
        while (v === last) v = Atomics.load(u64, ping);
      } else {
        while (v === last) {
          Atomics.wait(i64, ping, BigInt.asIntN(64, last));
          v = Atomics.load(u64, ping);
        }
      }
      last = v;
      write(m.pongOffset, m.pongWaitersOffset, v);
    }
  },
};
parentPort.on('message', (m) => {
  try {
    ops[m.op](m);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(e && e.stack || e) });
  }
});
`;

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
}

interface Request {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * A user-mode driver on its own thread (`worker_threads`): it writes seqnos into a
 * `SharedArrayBuffer` — real shared memory — the way a user queue (or the UMD on its
 * behalf) writes user fences, and notifies a waiter only when the waiter count says one
 * sleeps. The main thread turns those writes into dma-fences with a `MemoryFenceDriver`
 * (option `atomics`).
 *
 * Each command resolves when the thread has done it. Terminate the thread when done
 * ({@link UserModeDriverThread.terminate}); a live thread keeps Node running.
 */
export class UserModeDriverThread {
  readonly buffer: SharedArrayBuffer;
  readonly name: string;
  readonly #worker: Worker;
  readonly #requests = new Map<number, Request>();
  #nextId = 1;
  #exit: Error | null = null;

  private constructor(buffer: SharedArrayBuffer, name: string, worker: Worker) {
    this.buffer = buffer;
    this.name = name;
    this.#worker = worker;
    worker.on('message', (m: Reply) => {
      const r = this.#requests.get(m.id);
      if (r === undefined) return;
      this.#requests.delete(m.id);
      if (m.ok) r.resolve();
      else r.reject(new DepError('EIO', `user-mode driver thread ${name}: ${m.error ?? 'failed'}`));
    });
    const fail = (why: Error): void => {
      this.#exit ??= why;
      for (const r of this.#requests.values()) r.reject(why);
      this.#requests.clear();
    };
    worker.on('error', (e: Error) => { fail(new DepError('EIO', `user-mode driver thread ${name} crashed: ${e.message}`, { cause: e })); });
    worker.on('exit', (code: number) => { fail(new DepError('ESRCH', `user-mode driver thread ${name} exited (code ${code})`)); });
  }

  /**
   * Start the thread over `buffer` (a `SharedArrayBuffer`); resolves once it runs. EINVAL
   * for anything but a `SharedArrayBuffer`.
   */
  static async start(buffer: SharedArrayBuffer, options: UserModeDriverThreadOptions = {}): Promise<UserModeDriverThread> {
    if (Object.prototype.toString.call(buffer) !== '[object SharedArrayBuffer]') {
      throw new DepError('EINVAL', 'UserModeDriverThread.start: pass a SharedArrayBuffer (a Seq64Area made with shared: true has one)');
    }
    const name = options.name ?? 'umd';
    if (typeof name !== 'string' || name.length === 0) throw new DepError('EINVAL', 'UserModeDriverThread.start: name must be a non-empty string');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { buffer }, name });
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new UserModeDriverThread(buffer, name, worker);
  }

  /** The thread's id (`worker.threadId`). */
  get threadId(): number {
    return this.#worker.threadId;
  }

  /** Write one seqno (`Atomics.store`, then notify if someone waits). */
  write(target: SharedSeqnoTarget, value: bigint): Promise<void> {
    const t = this.#target(target, 'write');
    this.#checkValue(value, 'write');
    return this.#send({ op: 'write', ...t, value });
  }

  /** Write `count` seqnos `from`, `from + step`, …, sleeping `intervalMs` real ms before each. */
  run(options: UserModeRunOptions): Promise<void> {
    const t = this.#target(options, 'run');
    const step = options.step ?? 1n;
    this.#checkValue(options.from, 'run');
    this.#checkValue(step, 'run');
    const count = options.count;
    if (!Number.isSafeInteger(count) || count < 1) throw new DepError('EINVAL', `run: count must be a positive integer, got ${String(count)}`);
    if (options.from + step * BigInt(count - 1) > U64_MAX) throw new DepError('EINVAL', 'run: the last value would not fit in 64 bits');
    const intervalMs = options.intervalMs ?? 0;
    if (typeof intervalMs !== 'number' || !(intervalMs >= 0) || intervalMs === Infinity) {
      throw new DepError('EINVAL', `run: intervalMs must be a finite number ≥ 0, got ${String(intervalMs)}`);
    }
    return this.#send({ op: 'run', ...t, from: options.from, step, count, intervalMs });
  }

  /**
   * Ping-pong: `count` times, wait until the ping location differs from the pong location
   * (sleeping in `Atomics.wait`, or spinning) and copy it to `pong`. Resolves after the
   * last. The main thread must `Atomics.notify` the ping location unless `spin` is set.
   */
  echo(options: UserModeEchoOptions): Promise<void> {
    const ping = this.#target({ offset: options.pingOffset }, 'echo');
    const pong = this.#target(options.pong, 'echo');
    const count = options.count;
    if (!Number.isSafeInteger(count) || count < 1) throw new DepError('EINVAL', `echo: count must be a positive integer, got ${String(count)}`);
    if (ping.offset === pong.offset) throw new DepError('EINVAL', 'echo: ping and pong must be different locations');
    return this.#send({ op: 'echo', pingOffset: ping.offset, pongOffset: pong.offset, pongWaitersOffset: pong.waitersOffset, count, spin: options.spin === true });
  }

  /** Let Node exit while the thread is alive (benchmarks); `ref()` undoes it. */
  unref(): void {
    this.#worker.unref();
  }

  ref(): void {
    this.#worker.ref();
  }

  /** Stop the thread; pending commands reject with ESRCH. Idempotent. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #send(message: Record<string, unknown>): Promise<void> {
    if (this.#exit !== null) return Promise.reject(this.#exit);
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      this.#requests.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...message });
    });
  }

  #target(t: SharedSeqnoTarget, who: string): { offset: number; waitersOffset: number } {
    if (typeof t !== 'object' || t === null) throw new DepError('EINVAL', `${who}: pass { offset, waitersOffset? }`);
    const size = this.buffer.byteLength;
    const { offset, waitersOffset } = t;
    if (!Number.isInteger(offset) || offset % 8 !== 0) throw new DepError('EINVAL', `${who}: offset ${String(offset)} must be an 8-byte aligned integer`);
    if (offset < 0 || offset + 8 > size) throw new DepError('EFAULT', `${who}: offset ${offset} is outside the ${size}-byte buffer`);
    if (waitersOffset === undefined) return { offset, waitersOffset: -1 };
    if (!Number.isInteger(waitersOffset) || waitersOffset % 4 !== 0) {
      throw new DepError('EINVAL', `${who}: waitersOffset ${String(waitersOffset)} must be a 4-byte aligned integer`);
    }
    if (waitersOffset < 0 || waitersOffset + 4 > size) throw new DepError('EFAULT', `${who}: waitersOffset ${waitersOffset} is outside the ${size}-byte buffer`);
    return { offset, waitersOffset };
  }

  #checkValue(v: unknown, who: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new DepError('EINVAL', `${who}: values are u64 bigints, got ${typeof v === 'bigint' ? `${v}n` : typeof v}`);
  }
}
