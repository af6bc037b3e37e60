import type { ExecEvent, Runtime, Task } from '@dep/kernel';
import { CommandStreamer } from './command-streamer.js';
import { CostModel, type CostConfig } from './cost-model.js';
import type { Engine, EngineClass } from './engine.js';
import { FaultPlan } from './faults.js';
import { IrqLine, type IrqHandler } from './irq.js';
import { DeviceMemory, type MemoryConfig } from './memory/device-memory.js';
import { checkInt, checkName, checkOptions, fail } from './validate.js';

/** Configuration every device takes. */
export interface DeviceConfig {
  /** Name in traces and messages. Default `gpu0`, `gpu1`, … (`npu0` …) per runtime. */
  readonly name?: string;
  /** Seed of the jitter and fault streams. Default: the runtime's seed. */
  readonly seed?: number;
  readonly memory?: MemoryConfig;
  readonly cost?: CostConfig;
}

/** Counters a device keeps. */
export interface DeviceStats {
  /** Ring commands executed (batches counted when they complete). */
  commands: number;
  batches: number;
  /** Context saves completed (preemptions, suspends). */
  preemptions: number;
  /** Engine resets. */
  resets: number;
}

/** What the command streamer and firmware models need of a device. */
export interface DeviceCore {
  readonly rt: Runtime;
  readonly name: string;
  readonly memory: DeviceMemory;
  readonly cost: CostModel;
  readonly faults: FaultPlan;
  readonly stats: DeviceStats;
  readonly lost: boolean;
  schedule(delay: number, fn: (arg: unknown) => void, arg: unknown): ExecEvent;
  cancel(ev: ExecEvent): void;
}

const COUNTERS = Symbol('@dep/hw-sim device counters');

/**
 * A simulated device: memory, engines, an interrupt line, a cost model, a fault plan, and
 * (in the subclasses) a firmware scheduler — {@link GucDevice}, {@link CsfDevice},
 * {@link AieDevice}. It knows memory, rings, doorbells, engines and interrupts; never
 * fences. Everything it does runs as events of the runtime's executor (in a frame named
 * after the device, atomic like a timer), so the same seed replays the same trace.
 *
 * `I` is the firmware's interrupt event union; every device can also raise
 * `{ kind: 'device-lost' }`.
 */
export abstract class Device<I extends { readonly kind: string }> {
  readonly rt: Runtime;
  readonly name: string;
  readonly memory: DeviceMemory;
  readonly cost: CostModel;
  readonly faults: FaultPlan;
  readonly stats: DeviceStats = { commands: 0, batches: 0, preemptions: 0, resets: 0 };
  readonly engines: readonly Engine[];
  /** @internal */
  readonly cs: CommandStreamer;
  /** @internal */
  readonly irq: IrqLine<I>;
  /** @internal The frame device events run in. */
  readonly frame: Task;
  #lost: string | null = null;

  /** Subclasses validate their own config first, then call this. (Not for drivers.) */
  protected constructor(rt: Runtime, config: DeviceConfig, prefix: string, makeEngines: (devName: string) => Engine[]) {
    checkOptions('device config', config);
    const counters = rt.subsystem(COUNTERS, () => new Map<string, number>());
    const n = counters.get(prefix) ?? 0;
    const name = config.name === undefined ? `${prefix}${n}` : checkName('device name', config.name);
    const seed = config.seed === undefined ? rt.seed : checkInt('device seed', config.seed, 0, 0xffffffff);
    const memory = new DeviceMemory(rt, name, config.memory);
    const cost = new CostModel(config.cost, seed);
    const engines = makeEngines(name);
    // Everything validated: now change state.
    counters.set(prefix, n + 1);
    this.rt = rt;
    this.name = name;
    this.memory = memory;
    this.cost = cost;
    this.faults = new FaultPlan(rt, seed);
    this.engines = engines;
    this.cs = new CommandStreamer(this);
    this.irq = new IrqLine<I>(rt, name);
    this.frame = rt.newTask(name, 'timer');
  }

  /** True once the device is lost. */
  get lost(): boolean {
    return this.#lost !== null;
  }

  /**
   * `request_irq`: register the one interrupt handler. It runs in irq context (must not
   * sleep). Returns `free_irq`. EBUSY if a handler is registered.
   */
  requestIrq(handler: IrqHandler<I>): () => void {
    return this.irq.request(handler);
  }

  /** The engine named `name` (`rcs0`, `csg1.cs0`, `col2`). ENOENT if none. */
  engine(name: string): Engine {
    const e = this.engines.find((x) => x.name === name);
    if (e === undefined) fail('ENOENT', `${this.name} has no engine '${String(name)}'; it has ${this.engines.map((x) => x.name).join(', ')}`);
    return e;
  }

  /** Engines of one class. */
  enginesOf(cls: EngineClass): Engine[] {
    return this.engines.filter((e) => e.class === cls);
  }

  /** Busy time of an engine so far (ms). */
  busyMs(engine: Engine): number {
    const active = engine.state === 'busy' || engine.state === 'preempting';
    return engine.busyAccum + (active ? this.rt.now() - engine.busySince : 0);
  }

  /**
   * Lose the device (surprise removal, a fatal error): everything stops where it is, one
   * `device-lost` interrupt is raised, every later call fails with ENODEV and waiters are
   * woken with ENODEV. Idempotent.
   */
  lose(reason = 'device lost'): void {
    if (this.#lost !== null) return;
    this.#lost = reason;
    if (this.rt.trace.enabled) this.rt.trace.emit('hw:fault', { dev: this.name, kind: 'lost', ctx: undefined, detail: reason }, { lane: `${this.name}:fw` });
    this.onLost();
    this.irq.raise({ kind: 'device-lost', reason }, reason);
  }

  /** @internal */
  schedule(delay: number, fn: (arg: unknown) => void, arg: unknown): ExecEvent {
    return this.rt.executor.schedule(delay, this.frame, fn, arg, false);
  }

  /** @internal */
  cancel(ev: ExecEvent): void {
    this.rt.executor.cancel(ev);
  }

  /** @internal ENODEV once lost. */
  checkAlive(what: string): void {
    if (this.#lost !== null) fail('ENODEV', `${what}: device ${this.name} is lost (${this.#lost}); nothing more can be submitted — tear down and create a new device`);
  }

  /** Subclasses wake their waiters here. */
  protected abstract onLost(): void;
}
