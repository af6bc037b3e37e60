import type { Runtime } from '@dep/kernel';
import { Device } from '../device.js';
import { Engine } from '../engine.js';
import { checkInt, checkNumber, checkOptions, checkTimeout } from '../validate.js';
import { CsfFirmware, type CsfTimings } from './firmware.js';
import type { CsfConfig, CsfIrq } from './types.js';

/**
 * A GPU with CSF-like firmware (panthor): `slots × maxQueuesPerGroup` command-stream
 * engines named `csg<slot>.cs<queue>`, the firmware at {@link CsfDevice.fw}. Interrupts:
 * `sync-update`, `user-interrupt`, `group-fault`, `device-lost`.
 */
export class CsfDevice extends Device<CsfIrq> {
  readonly fw: CsfFirmware;

  constructor(rt: Runtime, config: CsfConfig = {}) {
    checkOptions('CSF config', config);
    const t = csfTimings(config);
    super(rt, config, 'gpu', (dev) => {
      const engines: Engine[] = [];
      for (let s = 0; s < t.slots; s++) {
        for (let q = 0; q < t.maxQueuesPerGroup; q++) engines.push(new Engine(dev, 'compute', s * t.maxQueuesPerGroup + q, `csg${s}.cs${q}`));
      }
      return engines;
    });
    this.fw = new CsfFirmware(this, t);
  }

  protected onLost(): void {
    this.fw.onLost();
  }
}

/** Make a GPU with CSF-like firmware. */
export function createCsfDevice(rt: Runtime, config: CsfConfig = {}): CsfDevice {
  return new CsfDevice(rt, config);
}

function csfTimings(c: CsfConfig): CsfTimings {
  return {
    slots: c.slots === undefined ? 4 : checkInt('slots', c.slots, 1, 31),
    maxQueuesPerGroup: c.maxQueuesPerGroup === undefined ? 4 : checkInt('maxQueuesPerGroup', c.maxQueuesPerGroup, 1, 32),
    tickMs: c.tickMs === undefined ? 10 : checkTimeout('tickMs', c.tickMs, Number.MIN_VALUE),
    suspendLatencyMs: c.suspendLatencyMs === undefined ? 0.05 : checkNumber('suspendLatencyMs', c.suspendLatencyMs),
    resumeLatencyMs: c.resumeLatencyMs === undefined ? 0.05 : checkNumber('resumeLatencyMs', c.resumeLatencyMs),
    suspendTimeoutMs: c.suspendTimeoutMs === undefined ? 100 : checkNumber('suspendTimeoutMs', c.suspendTimeoutMs, Number.MIN_VALUE),
  };
}
