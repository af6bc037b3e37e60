import { describe, expect, it } from 'vitest';
import { createCommandRing } from '../commands.js';
import { job, traced } from '../__fixtures__/sim.js';
import { createGucDevice } from './device.js';
import type { GucIrq } from './types.js';

describe('GuC smoke', () => {
  it('runs a job and delivers g2h and user interrupts', async () => {
    const { rt } = traced();
    const dev = createGucDevice(rt);
    const seq = dev.memory.allocNow('system', 4096);
    const ring = createCommandRing(1024);
    const irqs: Array<{ t: number; ev: GucIrq | { kind: 'device-lost' } }> = [];
    dev.requestIrq((ev) => irqs.push({ t: rt.now(), ev }));
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring });
    ring.write(job(2, seq.addr, 1n));
    dev.fw.enableScheduling(1);
    await rt.runUntilIdle();
    expect(seq.read64(0)).toBe(1n);
    expect(irqs.map((i) => i.ev.kind)).toEqual(['g2h', 'user-interrupt']);
    expect(dev.fw.runtimeMs(1)).toBeCloseTo(2.005, 6);
  });
});
