import type { Runtime } from '@dep/kernel';
import { Device } from '../device.js';
import { Engine } from '../engine.js';
import { checkInt, checkNumber, checkOptions, checkPow2 } from '../validate.js';
import { AieFirmware, type AieTimings } from './firmware.js';
import type { AieConfig, AieIrq } from './types.js';

/**
 * An NPU with AIE-like firmware (amdxdna): one `npu` engine per column (`col0` …), the
 * firmware at {@link AieDevice.fw}. Message responses go to each message's handler; the device
 * interrupt line additionally reports `mailbox` (per drain) and `device-lost`.
 */
export class AieDevice extends Device<AieIrq> {
  readonly fw: AieFirmware;

  constructor(rt: Runtime, config: AieConfig = {}) {
    checkOptions('AIE config', config);
    const t = aieTimings(config);
    super(rt, config, 'npu', (dev) => Array.from({ length: t.columns }, (_, i) => new Engine(dev, 'npu', i)));
    this.fw = new AieFirmware(this, t);
  }

  protected onLost(): void {
    this.fw.onLost();
  }
}

/** Make an NPU with AIE-like firmware. */
export function createAieDevice(rt: Runtime, config: AieConfig = {}): AieDevice {
  return new AieDevice(rt, config);
}

function aieTimings(c: AieConfig): AieTimings {
  return {
    columns: c.columns === undefined ? 4 : checkInt('columns', c.columns, 1, 64),
    maxContexts: c.maxContexts === undefined ? 16 : checkInt('maxContexts', c.maxContexts, 1, 1024),
    mgmtLatencyMs: c.mgmtLatencyMs === undefined ? 0.1 : checkNumber('mgmtLatencyMs', c.mgmtLatencyMs),
    msgLatencyMs: c.msgLatencyMs === undefined ? 0.01 : checkNumber('msgLatencyMs', c.msgLatencyMs),
    x2iRingWords: c.x2iRingWords === undefined ? 256 : checkPow2('x2iRingWords', c.x2iRingWords, 16, 2 ** 20),
    i2xRingWords: c.i2xRingWords === undefined ? 256 : checkPow2('i2xRingWords', c.i2xRingWords, 16, 2 ** 20),
  };
}
