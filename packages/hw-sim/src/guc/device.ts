import type { Runtime } from '@dep/kernel';
import { Device } from '../device.js';
import { Engine, checkEngineCounts, type EngineClass } from '../engine.js';
import { checkInt, checkNumber, checkOptions, checkTimeout } from '../validate.js';
import { GucFirmware, type GucTimings } from './firmware.js';
import type { GucConfig, GucIrq, GucPriority } from './types.js';

const GPU_CLASSES: readonly EngineClass[] = ['render', 'compute', 'copy', 'video'];

/**
 * A GPU with GuC-like firmware (xe): engines of the four GPU classes, the GuC at
 * {@link GucDevice.fw}. Interrupts: `g2h` replies and notifications, `user-interrupt` from ring
 * commands, `device-lost`.
 */
export class GucDevice extends Device<GucIrq> {
  readonly fw: GucFirmware;

  constructor(rt: Runtime, config: GucConfig = {}) {
    checkOptions('GuC config', config);
    const counts = checkEngineCounts(config.engines ?? { render: 1, compute: 2, copy: 1, video: 1 }, GPU_CLASSES);
    const t = gucTimings(config);
    super(rt, config, 'gpu', (dev) => {
      const engines: Engine[] = [];
      for (const cls of GPU_CLASSES) for (let i = 0; i < counts[cls]; i++) engines.push(new Engine(dev, cls, i));
      return engines;
    });
    this.fw = new GucFirmware(this, t);
  }

  protected onLost(): void {
    this.fw.onLost();
  }
}

/** Make a GPU with GuC-like firmware. */
export function createGucDevice(rt: Runtime, config: GucConfig = {}): GucDevice {
  return new GucDevice(rt, config);
}

function gucTimings(c: GucConfig): GucTimings {
  const d = checkOptions('defaults', c.defaults);
  return {
    maxContexts: c.maxContexts === undefined ? 1024 : checkInt('maxContexts', c.maxContexts, 1, 65535),
    h2gLatencyMs: c.h2gLatencyMs === undefined ? 0.01 : checkNumber('h2gLatencyMs', c.h2gLatencyMs),
    g2hLatencyMs: c.g2hLatencyMs === undefined ? 0.01 : checkNumber('g2hLatencyMs', c.g2hLatencyMs),
    h2gCapacity: c.h2gCapacity === undefined ? 256 : checkInt('h2gCapacity', c.h2gCapacity, 1),
    ctxSaveLatencyMs: c.ctxSaveLatencyMs === undefined ? 0.05 : checkNumber('ctxSaveLatencyMs', c.ctxSaveLatencyMs),
    engineResetMs: c.engineResetMs === undefined ? 0.5 : checkNumber('engineResetMs', c.engineResetMs),
    gtResetMs: c.gtResetMs === undefined ? 5 : checkNumber('gtResetMs', c.gtResetMs),
    defaults: {
      priority: d.priority === undefined ? 2 : (checkInt('defaults.priority', d.priority, 0, 3) as GucPriority),
      timesliceMs: d.timesliceMs === undefined ? 1 : checkTimeout('defaults.timesliceMs', d.timesliceMs, Number.MIN_VALUE),
      preemptTimeoutMs: d.preemptTimeoutMs === undefined ? 640 : checkTimeout('defaults.preemptTimeoutMs', d.preemptTimeoutMs, Number.MIN_VALUE),
      minRunPeriodMs: d.minRunPeriodMs === undefined ? 0 : checkNumber('defaults.minRunPeriodMs', d.minRunPeriodMs),
    },
  };
}
