import { EventQueue, type ExecEvent } from './event-queue.js';
import type { Task } from './task.js';

/** The part of a `MessagePort` the hop uses (same shape in Node and browsers). */
interface HopPort {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

/** What the runtime does around each event: oops handling and end-of-event checks. */
export interface ExecutorHooks {
  /** An event callback threw `error` while running in `frame`. */
  oops(error: unknown, frame: Task | null): void;
  /**
   * The event (or, for a hop event, its macrotask hop) in `frame` is over; `null` when
   * there is nothing to check (checks `off`), which keeps the hot path to a null test.
   */
  readonly settle: ((frame: Task | null) => void) | null;
}

/** Counters an executor keeps; cheap enough to keep always. */
export interface ExecutorStats {
  /** Events run (cancelled ones not counted). */
  events: number;
  /**
   * Task switches: events that resume or start a task (wake-ups, task and worker starts) —
   * the kernel's context switches, whether or not a macrotask hop was needed.
   */
  switches: number;
  /** Macrotask hops taken (switches whose task did not finish synchronously). */
  hops: number;
}

/**
 * The one time base of a runtime: a run queue of events, a current task, and the
 * macrotask hop that lets promise continuations run at the instant of the event that
 * resolved them. Two kinds: {@link VirtualExecutor} (discrete-event time, seeded) and
 * {@link RealExecutor} (the event loop and `performance.now()`).
 *
 * Events never nest: each runs to completion, synchronously, in the frame it was queued
 * for.
 */
export abstract class Executor {
  abstract readonly kind: 'virtual' | 'real';
  protected readonly queue = new EventQueue();
  protected readonly hooks: ExecutorHooks;
  readonly stats: ExecutorStats = { events: 0, switches: 0, hops: 0 };
  #seq = 0;
  #current: Task | null = null;
  #port: HopPort | null = null;
  #hopResolve: (() => void) | null = null;
  #skipHop = false;

  readonly #settle: ((frame: Task | null) => void) | null;

  constructor(hooks: ExecutorHooks) {
    this.hooks = hooks;
    this.#settle = hooks.settle;
  }

  /** Current time in ms. */
  abstract now(): number;

  /**
   * A cheap timestamp for hot paths (fence signal times): exact in virtual time; in real
   * time the clock read once when the current event started (like `ktime_get_coarse`).
   */
  abstract coarseNow(): number;

  /** The task whose code is running, or `null` for code outside any executor event. */
  get current(): Task | null {
    return this.#current;
  }

  /** Number of queued events (cancelled ones included). */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * Queue `fn(arg)` to run `delay` ms from now in `frame`. A `hop` event is followed by a
   * macrotask hop with `frame` current (wake-ups, task starts). Callable from any context.
   */
  schedule(delay: number, frame: Task | null, fn: (arg: unknown) => void, arg: unknown, hop: boolean): ExecEvent {
    const ev: ExecEvent = { t: 0, seq: this.#seq++, fn, arg, frame, hop, cancelled: false };
    if (delay > 0) {
      ev.t = this.now() + delay;
      this.queue.pushLater(ev);
    } else {
      ev.t = this.now();
      this.queue.pushReady(ev);
    }
    this.kick();
    return ev;
  }

  /** Drop a queued event; a no-op for one that already ran. */
  cancel(ev: ExecEvent): void {
    ev.cancelled = true;
  }

  /**
   * Called by the running hop event (a task start, a worker start) when its frame finished
   * synchronously — nothing awaits, so no continuation needs the macrotask hop: the next
   * event runs at once. A no-op outside a hop event.
   */
  skipHop(): void {
    this.#skipHop = true;
  }

  /** Called after queueing; the real-time executor starts its loop here. */
  protected abstract kick(): void;

  /** Run one event; returns true if the caller must take a hop before the next one. */
  protected dispatch(ev: ExecEvent): boolean {
    const frame = ev.frame;
    this.#current = frame;
    this.stats.events++;
    this.#skipHop = false;
    if (ev.hop) this.stats.switches++;
    try {
      ev.fn(ev.arg);
    } catch (e) {
      this.hooks.oops(e, frame);
    }
    if (ev.hop && !this.#skipHop) return true;
    this.#current = null;
    const settle = this.#settle;
    if (settle !== null && frame !== null) settle(frame);
    return false;
  }

  /** One macrotask hop with the event's frame current, then the frame is settled. */
  protected async hopAfter(frame: Task | null): Promise<void> {
    this.stats.hops++;
    await new Promise<void>((resolve) => {
      this.#hopResolve = resolve;
      this.#openPort().postMessage(0);
    });
    this.#current = null;
    const settle = this.#settle;
    if (settle !== null) settle(frame);
  }

  #openPort(): HopPort {
    if (this.#port !== null) return this.#port;
    const channel = new MessageChannel() as unknown as { port1: HopPort; port2: HopPort };
    channel.port1.onmessage = () => {
      const resolve = this.#hopResolve;
      this.#hopResolve = null;
      resolve?.();
    };
    this.#port = channel.port2;
    return channel.port2;
  }

  /** Close the hop channel: an open port keeps Node alive, so it is closed whenever idle. */
  protected closePort(): void {
    if (this.#port === null) return;
    this.#port.close();
    this.#port = null;
  }
}
