// INACTIVE fences (rfc-designs E.2): armed but not pushed. Waits, callbacks and
// containers reject them with EINVAL and change nothing; setActive at push lifts it.
import { DepError, Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFence, FenceFlag, assertActive, isActive, waitAnyTimeout, type DmaFenceOps } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };

function expectEinval(fn: () => unknown, who: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DepError);
  expect((err as DepError).code).toBe('EINVAL');
  expect((err as DepError).message).toMatch(who);
  expect((err as DepError).message).toMatch(/INACTIVE/);
}

describe('INACTIVE fences', () => {
  it('are off unless asked for', () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    expect(f.inactive).toBe(false);
    expect(isActive(f)).toBe(true);
  });

  it('initInactive and the inactive option set the INACTIVE bit', () => {
    const rt = new Runtime();
    const a = new DmaFence().initInactive(ops, 1n, 1n, { runtime: rt });
    const b = new DmaFence(ops, 1n, 2n, { runtime: rt, inactive: true });
    expect(a.inactive && b.inactive).toBe(true);
    expect(a.testFlag(FenceFlag.INACTIVE)).toBe(true);
  });

  it('addCallback and enableSwSignaling reject it with EINVAL, changing nothing', () => {
    const rt = new Runtime();
    let enabled = 0;
    const f = new DmaFence({ ...ops, enableSignaling: () => (enabled++, true) }, 1n, 1n, { runtime: rt, inactive: true });
    expectEinval(() => f.addCallback(() => {}), /dma_fence_add_callback/);
    expectEinval(() => f.enableSwSignaling(), /dma_fence_enable_sw_signaling/);
    expect(enabled).toBe(0);
    expect(f.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
    expect(f.removeCallback(() => {})).toBe(false);
  });

  it('waits reject it with EINVAL', async () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt, inactive: true });
    await expect(f.wait()).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(f.waitTimeout(0)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('waitAnyTimeout rejects a list with an inactive fence before touching the others', async () => {
    const rt = new Runtime();
    let enabled = 0;
    const active = new DmaFence({ ...ops, enableSignaling: () => (enabled++, true) }, 1n, 1n, { runtime: rt });
    const inactive = new DmaFence(ops, 1n, 2n, { runtime: rt, inactive: true });
    await expect(waitAnyTimeout([active, inactive], 10)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(enabled).toBe(0);
    expect(active.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
  });

  it('assertActive is the container check: EINVAL naming the caller', () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt, inactive: true });
    expectEinval(() => assertActive(f, 'dma_resv_add_fence'), /dma_resv_add_fence/);
    expect(() => assertActive({} as never, 'sync_file_create')).toThrow(/expected a fence/);
    f.setActive();
    expect(() => assertActive(f, 'dma_resv_add_fence')).not.toThrow();
  });

  it('setActive (at push) lifts every rejection', async () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt, inactive: true });
    f.setActive();
    expect(f.addCallback(() => {})).toBe(true);
    f.signal();
    expect(await f.waitTimeout(0)).toBe(1);
  });

  it('setActive on an active fence WARNs', () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt });
    const { reports } = rt.reports.capture(() => f.setActive());
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toMatch(/not inactive/);
  });

  it('the issuer may still signal (cancel) an inactive fence it never pushed', () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt, inactive: true });
    f.setError(-125);
    f.signal();
    expect(f.getStatus()).toBe(-125);
    expect(f.inactive).toBe(true);
  });
});
