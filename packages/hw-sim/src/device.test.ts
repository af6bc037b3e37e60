import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { createAieDevice } from './aie/device.js';
import { createCommandRing } from './commands.js';
import { createCsfDevice } from './csf/device.js';
import { createGucDevice } from './guc/device.js';

function errCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDepError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('Device', () => {
  it('names devices per runtime, and a refused config uses no name', () => {
    const rt = new Runtime();
    expect(errCode(() => createGucDevice(rt, { engines: { npu: 1 } }))).toBe('EINVAL');
    expect(errCode(() => createGucDevice(rt, { name: '' }))).toBe('EINVAL');
    expect(errCode(() => createCsfDevice(rt, { slots: 0 }))).toBe('EINVAL');
    expect(errCode(() => createAieDevice(rt, { x2iRingWords: 100 }))).toBe('EINVAL');
    expect(errCode(() => createGucDevice(rt, { cost: { render: { jitter: 1 } } }))).toBe('EINVAL');
    expect(errCode(() => createGucDevice(rt, { cost: { warp: {} } as never }))).toBe('EINVAL');
    expect([createGucDevice(rt).name, createCsfDevice(rt).name, createAieDevice(rt).name]).toEqual(['gpu0', 'gpu1', 'npu0']);
    expect(createGucDevice(new Runtime()).name).toBe('gpu0');
  });

  it('lays out engines per class and finds them by name', () => {
    const rt = new Runtime();
    const guc = createGucDevice(rt, { engines: { render: 1, compute: 2, video: 1 } });
    expect(guc.engines.map((e) => e.name)).toEqual(['rcs0', 'ccs0', 'ccs1', 'vcs0']);
    expect(guc.enginesOf('compute').length).toBe(2);
    expect(errCode(() => guc.engine('bcs0'))).toBe('ENOENT');
    const csf = createCsfDevice(rt, { slots: 2, maxQueuesPerGroup: 2 });
    expect(csf.engines.map((e) => e.name)).toEqual(['csg0.cs0', 'csg0.cs1', 'csg1.cs0', 'csg1.cs1']);
    expect(createAieDevice(rt, { columns: 3 }).engines.map((e) => `${e.class}:${e.name}`)).toEqual(['npu:col0', 'npu:col1', 'npu:col2']);
  });

  it('has one interrupt handler at a time (EBUSY), counts unhandled interrupts, and free_irq works', async () => {
    const rt = new Runtime();
    const dev = createGucDevice(rt, { h2gLatencyMs: 0 });
    const free = dev.requestIrq(() => undefined);
    expect(errCode(() => dev.requestIrq(() => undefined))).toBe('EBUSY');
    free();
    const ring = createCommandRing(64);
    dev.fw.registerContext({ id: 0, engineClass: 'render', ring });
    ring.write({ op: 'interrupt' });
    dev.fw.enableScheduling(0);
    await rt.runUntilIdle();
    expect(dev.irq.unhandled).toBe(2); // sched-done and the user interrupt
    const seen: string[] = [];
    dev.requestIrq((ev) => seen.push(ev.kind));
    dev.lose();
    dev.lose();
    await rt.runUntilIdle();
    expect(seen).toEqual(['device-lost']);
    expect(dev.lost).toBe(true);
  });
});
