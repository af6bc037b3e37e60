import type { ExecContext } from './context.js';

/** A trace argument value. `bigint` seqnos are kept exact. */
export type TraceArg = string | number | bigint | boolean | undefined;

/**
 * Trace events by tracepoint name, with their argument shapes. Upper packages add theirs
 * by declaration merging:
 *
 * ```ts
 * declare module '@dep/kernel' {
 *   interface TraceEventMap { 'dma_fence:signaled': { context: bigint; seqno: bigint } }
 * }
 * ```
 */
export interface TraceEventMap {
  'sched:sched_process_fork': { task: string; context: ExecContext };
  'sched:sched_process_exit': { task: string; failed: boolean };
  'sched:sched_wakeup': { task: string; reason: string };
  'timer:timer_expire_entry': { timer: string };
  'irq:irq_handler_entry': { name: string };
  'workqueue:workqueue_queue_work': { work: string; workqueue: string };
  'workqueue:workqueue_execute_start': { work: string; workqueue: string };
  'workqueue:workqueue_execute_end': { work: string; workqueue: string };
}

/** A tracepoint name. */
export type TraceName = Extract<keyof TraceEventMap, string>;

/**
 * Phase, as Chrome trace JSON has it: `i` instant, `B`/`E` begin/end of a slice on a lane,
 * `X` a complete slice with `dur`, `C` a counter sample.
 */
export type TracePhase = 'i' | 'B' | 'E' | 'X' | 'C';

/** One recorded trace event. */
export interface TraceRecord<N extends TraceName = TraceName> {
  readonly name: N;
  /** Runtime time in ms. */
  readonly ts: number;
  readonly ph: TracePhase;
  /** Duration in ms, for `X`. */
  readonly dur?: number;
  /** The lane (timeline row): an engine, a queue, a task. Defaults to the running task. */
  readonly lane: string;
  /** Flow arrow: events with the same id are joined, `out` starting and `in` ending it. */
  readonly flow?: { readonly id: number; readonly dir: 'out' | 'in' };
  readonly args: TraceEventMap[N];
}

/** Where trace records go. */
export interface TraceSink {
  write(record: TraceRecord): void;
}

/** Optional parts of an emitted event. */
export interface TraceOptions {
  readonly ph?: TracePhase;
  /**
   * Time of the event (ms) when it is not now — e.g. an `X` slice emitted when it ends,
   * with `ts` at its start. Must not lie in the future.
   */
  readonly ts?: number;
  readonly dur?: number;
  readonly lane?: string;
  readonly flow?: { readonly id: number; readonly dir: 'out' | 'in' };
}

/** What the tracer asks of its runtime. */
export interface TraceClock {
  now(): number;
  currentName(): string;
}

/**
 * A runtime's tracer. With no sink attached, {@link enabled} is false and callers skip
 * building arguments: `if (rt.trace.enabled) rt.trace.emit(...)`.
 */
export class Tracer {
  readonly #sinks: TraceSink[] = [];
  readonly #clock: TraceClock;
  #enabled = false;

  constructor(clock: TraceClock) {
    this.#clock = clock;
  }

  /** True while at least one sink is attached. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Attach a sink; returns a function that detaches it. */
  attach(sink: TraceSink): () => void {
    this.#sinks.push(sink);
    this.#enabled = true;
    return () => {
      const i = this.#sinks.indexOf(sink);
      if (i >= 0) this.#sinks.splice(i, 1);
      this.#enabled = this.#sinks.length > 0;
    };
  }

  /** Emit one event at the current time. Any context; never throws for a sink's sake. */
  emit<N extends TraceName>(name: N, args: TraceEventMap[N], options?: TraceOptions): void {
    if (!this.#enabled) return;
    const record: TraceRecord<N> = {
      name,
      ts: options?.ts ?? this.#clock.now(),
      ph: options?.ph ?? 'i',
      lane: options?.lane ?? this.#clock.currentName(),
      args,
      ...(options?.dur === undefined ? {} : { dur: options.dur }),
      ...(options?.flow === undefined ? {} : { flow: options.flow }),
    };
    for (const sink of this.#sinks) sink.write(record);
  }
}

/** Keeps every record in memory, for tests and for the other formats. */
export class MemoryTraceSink implements TraceSink {
  readonly records: TraceRecord[] = [];
  write(record: TraceRecord): void {
    this.records.push(record);
  }
  /** Records with one tracepoint name. */
  named<N extends TraceName>(name: N): TraceRecord<N>[] {
    return this.records.filter((r): r is TraceRecord<N> => r.name === name);
  }
}

function formatArg(v: TraceArg): string {
  return typeof v === 'bigint' ? v.toString() : String(v);
}

/** `name=value` pairs in key order, as ftrace prints them. */
function formatArgs(args: object): string {
  return Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatArg(v as TraceArg)}`)
    .join(' ');
}

/**
 * One record as an ftrace-like text line:
 * `        lane  12.000000: dma_fence:signaled: context=1 seqno=2`.
 */
export function formatFtraceLine(r: TraceRecord): string {
  const ts = (r.ts / 1000).toFixed(6);
  const ph = r.ph === 'i' ? '' : ` ph=${r.ph}${r.dur === undefined ? '' : ` dur=${r.dur}`}`;
  const flow = r.flow === undefined ? '' : ` flow=${r.flow.dir}:${r.flow.id}`;
  return `${r.lane.padStart(16)} ${ts.padStart(14)}: ${r.name}: ${formatArgs(r.args)}${ph}${flow}`;
}

/** Renders records as ftrace-like text, one line each. */
export class FtraceTextSink implements TraceSink {
  readonly lines: string[] = [];
  write(record: TraceRecord): void {
    this.lines.push(formatFtraceLine(record));
  }
  toString(): string {
    return this.lines.join('\n') + (this.lines.length > 0 ? '\n' : '');
  }
}

/** One event of the Chrome trace event format (loads in Perfetto and chrome://tracing). */
export interface ChromeTraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  s?: 'g' | 'p' | 't';
  dur?: number;
  id?: number;
  bp?: 'e';
  args?: Record<string, string | number | boolean>;
}

/** Collects records and renders Chrome trace JSON: one thread (tid) per lane, µs timestamps. */
export class ChromeTraceSink implements TraceSink {
  readonly #events: ChromeTraceEvent[] = [];
  readonly #lanes = new Map<string, number>();
  readonly #pid: number;
  readonly #processName: string;

  constructor(options?: { pid?: number; processName?: string }) {
    this.#pid = options?.pid ?? 1;
    this.#processName = options?.processName ?? 'dep';
  }

  #tid(lane: string): number {
    let tid = this.#lanes.get(lane);
    if (tid === undefined) {
      tid = this.#lanes.size + 1;
      this.#lanes.set(lane, tid);
    }
    return tid;
  }

  write(r: TraceRecord): void {
    const args: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(r.args as Record<string, TraceArg>)) {
      if (v === undefined) continue;
      args[k] = typeof v === 'bigint' ? v.toString() : (v);
    }
    const colon = r.name.indexOf(':');
    const cat = colon > 0 ? r.name.slice(0, colon) : 'dep';
    const tid = this.#tid(r.lane);
    const ts = r.ts * 1000;
    const ev: ChromeTraceEvent = { name: r.name, cat, ph: r.ph, ts, pid: this.#pid, tid, args };
    if (r.ph === 'i') ev.s = 't';
    if (r.dur !== undefined) ev.dur = r.dur * 1000;
    this.#events.push(ev);
    if (r.flow !== undefined) {
      const flow: ChromeTraceEvent = { name: 'flow', cat: 'flow', ph: r.flow.dir === 'out' ? 's' : 'f', ts, pid: this.#pid, tid, id: r.flow.id };
      if (r.flow.dir === 'in') flow.bp = 'e';
      this.#events.push(flow);
    }
  }

  /** The trace as a Chrome trace JSON object, with lane names as thread names. */
  toJSON(): { traceEvents: ChromeTraceEvent[]; displayTimeUnit: 'ms' } {
    const meta: ChromeTraceEvent[] = [
      { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: this.#pid, tid: 0, args: { name: this.#processName } },
    ];
    for (const [lane, tid] of this.#lanes) {
      meta.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: this.#pid, tid, args: { name: lane } });
    }
    return { traceEvents: [...meta, ...this.#events], displayTimeUnit: 'ms' };
  }
}

/**
 * A stable hash of a trace: two 32-bit FNV-1a lanes (different offset bases) over the
 * ftrace text of every record, as 16 hex digits. Same seed ⇒ same interleaving ⇒ same
 * hash, in Node and browsers alike.
 */
export function traceHash(records: readonly TraceRecord[]): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (const r of records) {
    const line = formatFtraceLine(r);
    for (let i = 0; i <= line.length; i++) {
      const c = i < line.length ? line.charCodeAt(i) : 10;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
