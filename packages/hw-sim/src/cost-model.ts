import { Prng } from '@dep/kernel';
import type { EngineClass } from './engine.js';
import { checkNumber, checkOptions, fail } from './validate.js';

/** Cost of a batch on one engine class: `fixedMs + perUnitMs × units`, ± `jitter`. */
export interface ClassCost {
  /** Fixed cost per batch (launch, flush), ms. */
  readonly fixedMs: number;
  /** Cost per work unit, ms. */
  readonly perUnitMs: number;
  /**
   * Relative jitter in [0, 1): each duration is multiplied by `1 + jitter × u`, `u`
   * uniform in [-1, 1) from the device's seeded jitter stream. 0 (default) draws nothing.
   */
  readonly jitter: number;
}

/** Per-class overrides of the cost model. */
export type CostConfig = Partial<Record<EngineClass, Partial<ClassCost>>>;

const DEFAULT: Readonly<Record<EngineClass, ClassCost>> = {
  render: { fixedMs: 0.005, perUnitMs: 1, jitter: 0 },
  compute: { fixedMs: 0.005, perUnitMs: 1, jitter: 0 },
  copy: { fixedMs: 0.002, perUnitMs: 1, jitter: 0 },
  video: { fixedMs: 0.01, perUnitMs: 1, jitter: 0 },
  npu: { fixedMs: 0.02, perUnitMs: 1, jitter: 0 },
};

/**
 * The cost model: how long a batch runs, per engine class. Defaults make one unit one
 * millisecond of work plus a few microseconds of fixed cost; jitter comes from a PRNG
 * seeded from the device's seed, separate from the fault stream, so adding a fault rule
 * does not change durations.
 */
export class CostModel {
  readonly #costs: Record<EngineClass, ClassCost>;
  readonly #prng: Prng;

  constructor(config: CostConfig | undefined, seed: number) {
    const c = checkOptions('cost config', config);
    const costs = { ...DEFAULT };
    for (const [cls, v] of Object.entries(c)) {
      if (!(cls in DEFAULT)) fail('EINVAL', `cost model: unknown engine class '${cls}'; use ${Object.keys(DEFAULT).join(', ')}`);
      if (v === undefined) continue;
      checkOptions(`cost.${cls}`, v);
      const base = DEFAULT[cls as EngineClass];
      const fixedMs = v.fixedMs === undefined ? base.fixedMs : checkNumber(`cost.${cls}.fixedMs`, v.fixedMs);
      const perUnitMs = v.perUnitMs === undefined ? base.perUnitMs : checkNumber(`cost.${cls}.perUnitMs`, v.perUnitMs);
      const jitter = v.jitter === undefined ? base.jitter : checkNumber(`cost.${cls}.jitter`, v.jitter);
      if (jitter >= 1) fail('EINVAL', `cost.${cls}.jitter is ${jitter}; pass a fraction in [0, 1)`);
      costs[cls as EngineClass] = { fixedMs, perUnitMs, jitter };
    }
    this.#costs = costs;
    this.#prng = new Prng(seed ^ 0x6a177e5);
  }

  /** The cost of one class. */
  cost(cls: EngineClass): ClassCost {
    return this.#costs[cls];
  }

  /** Duration (ms) of a batch of `units` on `cls`, with `scale` dividing the per-unit part. */
  duration(cls: EngineClass, units: number, scale = 1): number {
    const c = this.#costs[cls];
    const d = c.fixedMs + (c.perUnitMs * units) / scale;
    if (c.jitter === 0) return d;
    return d * (1 + c.jitter * (2 * this.#prng.next() - 1));
  }
}
