import type { HwContext } from './hw-context.js';
import { checkInt, checkOptions, fail } from './validate.js';

/** Engine classes: the GPU's render, compute, copy (blitter) and video engines; NPU columns. */
export type EngineClass = 'render' | 'compute' | 'copy' | 'video' | 'npu';

/** All engine classes. */
export const ENGINE_CLASSES: readonly EngineClass[] = ['render', 'compute', 'copy', 'video', 'npu'];

/** Short names, as i915/xe print them (`rcs0`, `ccs1`, `bcs0`, `vcs0`), and `col` for NPU columns. */
export const ENGINE_PREFIX: Readonly<Record<EngineClass, string>> = {
  render: 'rcs',
  compute: 'ccs',
  copy: 'bcs',
  video: 'vcs',
  npu: 'col',
};

/** What an engine is doing. */
export type EngineState = 'idle' | 'busy' | 'preempting' | 'resetting';

/**
 * One hardware engine (a command streamer and what it drives). The firmware decides which
 * context runs on it; it runs one at a time. Per-class concurrency is the number of
 * engines of the class.
 */
export class Engine {
  /** `rcs0`, `ccs1`, `csg2.cs0`, `col3`. */
  readonly name: string;
  readonly class: EngineClass;
  readonly instance: number;
  /** Trace lane: `<device>:<name>`. */
  readonly lane: string;
  /** @internal The context on the engine. */
  current: HwContext | null = null;
  /** @internal */
  state: EngineState = 'idle';
  /** @internal Accumulated busy time before the current stint. */
  busyAccum = 0;
  /** @internal Start of the current stint (when {@link current} was put on). */
  busySince = 0;
  /** @internal Who holds the engine when it is not a ring context (an NPU hardware context). */
  holder: string | null = null;

  /** Made by the device. (Not for drivers.) */
  constructor(devName: string, cls: EngineClass, instance: number, name?: string) {
    this.class = cls;
    this.instance = instance;
    this.name = name ?? `${ENGINE_PREFIX[cls]}${instance}`;
    this.lane = `${devName}:${this.name}`;
  }

  /** Name of the context on the engine, or null when idle. */
  get contextName(): string | null {
    return this.current?.name ?? this.holder;
  }

  /** What the engine is doing. */
  get status(): EngineState {
    return this.state;
  }
}

/** Engines per class. */
export type EngineCounts = Partial<Record<EngineClass, number>>;

/** Validate an engine-count map. */
export function checkEngineCounts(counts: EngineCounts | undefined, allowed: readonly EngineClass[]): Record<EngineClass, number> {
  const c = checkOptions('engines', counts);
  const out: Record<EngineClass, number> = { render: 0, compute: 0, copy: 0, video: 0, npu: 0 };
  for (const [cls, n] of Object.entries(c)) {
    if (!(allowed as readonly string[]).includes(cls)) fail('EINVAL', `engines: class '${cls}' is not available on this device; use ${allowed.join(', ')}`);
    if (n === undefined) continue;
    out[cls as EngineClass] = checkInt(`engines.${cls}`, n, 0, 64);
  }
  return out;
}
