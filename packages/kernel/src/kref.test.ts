import { describe, expect, it } from 'vitest';
import { isDepError, isDepWarning, Kref, Runtime } from './index.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('Kref', () => {
  it('runs the release callback exactly once, on the last put', () => {
    const rt = new Runtime();
    const released: Kref[] = [];
    const k = new Kref(rt, (kr) => released.push(kr));
    expect(k.read()).toBe(1);
    k.get();
    k.get();
    expect(k.read()).toBe(3);
    expect(k.put()).toBe(false);
    expect(k.put()).toBe(false);
    expect(released).toEqual([]);
    expect(k.put()).toBe(true);
    expect(released).toEqual([k]);
    expect(k.read()).toBe(0);
  });

  it('getUnlessZero fails quietly on a released object', () => {
    const rt = new Runtime();
    const k = new Kref(rt, () => undefined);
    expect(k.getUnlessZero()).toBe(true);
    expect(k.read()).toBe(2);
    k.put();
    k.put();
    expect(k.getUnlessZero()).toBe(false);
    expect(k.read()).toBe(0);
    expect(rt.reports.count()).toBe(0);
  });

  it('get after the last put is a use-after-free report and does not resurrect', () => {
    const rt = new Runtime({ checks: 'warn' });
    let releases = 0;
    const k = new Kref(rt, () => releases++, { kind: 'dma_fence', site: 'fence_create' });
    k.put();
    k.get();
    expect(k.read()).toBe(0);
    expect(k.put()).toBe(false);
    expect(releases).toBe(1);
    const r = rt.reports.list;
    expect(r.map((x) => x.kind)).toEqual(['use-after-free', 'use-after-free']);
    expect(r[0]!.message).toContain('kref_get');
    expect(r[0]!.message).toContain('dma_fence');
    expect(r[0]!.details).toContain('created at: fence_create');
    expect(r[1]!.message).toContain('underflow');
  });

  it('under checks strict a use-after-free throws at the get', () => {
    const rt = new Runtime();
    const k = new Kref(rt, () => undefined);
    k.put();
    const e = errorOf(() => k.get());
    expect(isDepWarning(e)).toBe(true);
    expect((e as { report: { kind: string } }).report.kind).toBe('use-after-free');
  });

  it('with checks off it is just a counter: nothing tracked, nothing reported', () => {
    const rt = new Runtime({ checks: 'off' });
    let releases = 0;
    const k = new Kref(rt, () => releases++);
    k.put();
    k.get();
    expect(k.put()).toBe(false);
    expect(releases).toBe(1);
    expect(rt.lifetimes.liveCount).toBe(0);
    new Kref(rt, () => undefined); // never put
    expect(rt.shutdown()).toEqual([]);
  });

  it('rejects a missing release callback', () => {
    const rt = new Runtime();
    expect(isDepError(errorOf(() => new Kref(rt, undefined as unknown as () => void)), 'EINVAL')).toBe(true);
    expect(rt.lifetimes.liveCount).toBe(0);
  });
});

describe('lifetimes', () => {
  it('assertAlive reports a use after the last put, naming the operation, kind and site', () => {
    const rt = new Runtime({ checks: 'warn' });
    const fence = { name: 'f' };
    const k = new Kref(rt, () => undefined, { owner: fence, kind: 'dma_fence', site: 'xe_hw_fence_create' });
    expect(rt.lifetimes.assertAlive(fence, 'dma_fence_signal')).toBe(true);
    k.put();
    expect(rt.lifetimes.isReleased(fence)).toBe(true);
    expect(rt.lifetimes.assertAlive(fence, 'dma_fence_signal')).toBe(false);
    const r = rt.reports.list;
    expect(r).toHaveLength(1);
    expect(r[0]!.kind).toBe('use-after-free');
    expect(r[0]!.message).toContain('dma_fence_signal');
    expect(r[0]!.message).toContain('dma_fence');
    expect(r[0]!.details[0]).toBe('created at: xe_hw_fence_create');
    expect(rt.lifetimes.assertAlive({}, 'untracked')).toBe(true);
  });

  it('objects alive at shutdown are leak reports naming kind and creation site', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new Kref(rt, () => undefined, { kind: 'drm_dep_job', site: 'job_init' });
    new Kref(rt, () => undefined, { kind: 'drm_dep_job', site: 'job_init' });
    new Kref(rt, () => undefined, { kind: 'drm_dep_queue', site: 'queue_create' });
    const freed = new Kref(rt, () => undefined, { kind: 'drm_dep_job', site: 'job_init' });
    freed.put();
    a.get();
    const leaks = rt.shutdown().filter((r) => r.kind === 'leak');
    expect(leaks.map((l) => l.message)).toEqual([
      '2 drm_dep_job objects created at job_init still alive at shutdown',
      '1 drm_dep_queue object created at queue_create still alive at shutdown',
    ]);
    expect(leaks[0]!.details[0]).toMatch(/^alive: drm_dep_job #\d+ \(refcount 2\)$/);
    // Idempotent.
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toHaveLength(2);
  });

  it('under checks strict every leak is recorded, then shutdown throws the first', () => {
    const rt = new Runtime();
    new Kref(rt, () => undefined, { kind: 'a', site: 's1' });
    new Kref(rt, () => undefined, { kind: 'b', site: 's2' });
    const e = errorOf(() => rt.shutdown());
    expect(isDepWarning(e)).toBe(true);
    expect(rt.reports.count('leak')).toBe(2);
  });

  it('without a site, checks strict capture the creation stack', () => {
    const rt = new Runtime();
    const k = new Kref(rt, () => undefined, { kind: 'thing' });
    const site = rt.lifetimes.tokenOf(k)!.site();
    expect(site).toContain('kref.test.ts');
    const { reports } = rt.reports.capture(() => rt.lifetimes.reportLeaks());
    expect(reports[0]!.message).toContain('kref.test.ts');
    k.put();
  });

  it('with checks warn and no site, the site says how to get one', () => {
    const rt = new Runtime({ checks: 'warn' });
    const k = new Kref(rt, () => undefined);
    expect(rt.lifetimes.tokenOf(k)!.site()).toMatch(/^\(no site/);
  });

  it('track refuses a live object twice; a double release is reported; a released object may be re-tracked', () => {
    const rt = new Runtime({ checks: 'warn' });
    const obj = {};
    const t = rt.lifetimes.track(obj, 'buf', 'alloc_buf');
    expect(isDepError(errorOf(() => rt.lifetimes.track(obj, 'buf')), 'EEXIST')).toBe(true);
    expect(isDepError(errorOf(() => rt.lifetimes.track(obj, '')), 'EINVAL')).toBe(true);
    expect(rt.lifetimes.liveCount).toBe(1);
    rt.lifetimes.release(t);
    expect(t.released).toBe(true);
    rt.lifetimes.release(t);
    expect(rt.reports.list.map((r) => [r.kind, r.message.startsWith('double free of buf')])).toEqual([['use-after-free', true]]);
    const t2 = rt.lifetimes.track(obj, 'buf', 'realloc');
    expect(rt.lifetimes.assertAlive(obj, 'use')).toBe(true);
    rt.lifetimes.release(t2);
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });
});
