// The fence wait-for graph through containers: arrays declare "array waits on member",
// chain nodes "node waits on its fence" and "node waits on the previous point", syncobj
// points the same with their point number. A cycle through an array, a chain and a
// syncobj point is reported the moment it closes, naming every fence and every reason.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  Syncobj,
  contextAlloc,
  fenceLabel,
  fenceWaitsOf,
  fenceWaitsOn,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const jobOps: DmaFenceOps = { getDriverName: () => 'drm_dep', getTimelineName: () => 'queue0' };

function build(rt: Runtime): { job: DmaFence; array: DmaFenceArray; chain: DmaFenceChain; point: Fence; syncobj: Syncobj } {
  const job = new DmaFence(jobOps, contextAlloc(1, rt), 1n, { runtime: rt });
  const array = DmaFenceArray.create([job.get()], contextAlloc(1, rt), 1n);
  const chain = DmaFenceChain.create(null, array.get(), 1n);
  const syncobj = Syncobj.create({ fence: chain });
  const other = new DmaFence(jobOps, contextAlloc(1, rt), 1n, { runtime: rt });
  syncobj.addPoint(other, 2n);
  const point = syncobj.fenceGet()!;
  return { job, array, chain, point, syncobj };
}

describe('wait-for graph through containers', () => {
  it('containers declare their edges, with reasons; signalling drops them', async () => {
    const rt = new Runtime();
    const { job, array, chain, point } = build(rt);
    expect(fenceWaitsOf(array).map((w) => [w.waitee, w.reason])).toEqual([[job, 'dma_fence_array member 0']]);
    expect(fenceWaitsOf(chain).map((w) => [w.waitee, w.reason])).toEqual([[array, 'dma_fence_chain point 1 contains this fence']]);
    expect(fenceWaitsOf(point).map((w) => w.reason)).toEqual(['drm_syncobj timeline point 2 contains this fence', 'drm_syncobj timeline point 2 completes after the previous point']);
    expect(fenceWaitsOf(point)[1]!.waitee).toBe(chain);
    job.signal();
    expect(fenceWaitsOf(array)).toEqual([]);
    array.enableSwSignaling();
    await rt.runUntilIdle();
    expect(array.testSignaledFlag()).toBe(true);
    expect(fenceWaitsOf(chain)).toEqual([]);
  });

  it('a cycle through an array, a chain and a syncobj point is reported with every fence and reason', () => {
    const rt = new Runtime();
    const { job, array, chain, point } = build(rt);
    // The job (the array's member) now depends on the syncobj point: job → point → chain → array → job.
    const { result, reports } = rt.reports.capture(() => fenceWaitsOn(job, point, 'job dependency on syncobj point 2'));
    expect(result.cyclic).toBe(true);
    expect(reports).toHaveLength(1);
    const r = reports[0]!;
    expect(r.kind).toBe('fence-cycle');
    for (const f of [job, point, chain, array]) expect(r.message).toContain(fenceLabel(f));
    expect(r.details).toEqual([
      `${fenceLabel(job)} waits on ${fenceLabel(point)} (job dependency on syncobj point 2)`,
      `${fenceLabel(point)} waits on ${fenceLabel(chain)} (drm_syncobj timeline point 2 completes after the previous point)`,
      `${fenceLabel(chain)} waits on ${fenceLabel(array)} (dma_fence_chain point 1 contains this fence)`,
      `${fenceLabel(array)} waits on ${fenceLabel(job)} (dma_fence_array member 0)`,
      expect.stringMatching(/none of these fences can signal/) as string,
    ]);
    // In strict mode the same edge throws the report.
    const rt2 = new Runtime();
    const b = build(rt2);
    expect(() => fenceWaitsOn(b.job, b.point, 'job dependency')).toThrow(/fence wait-for cycle/);
  });

  it('the stall watchdog prints the wait-for chain through the containers', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const { point } = build(rt);
    await rt.run(() => {
      rt.spawn('waiter', () => point.wait());
    });
    const stall = rt.reports.list.find((r) => r.kind === 'stall')!;
    const text = stall.details.join('\n');
    expect(text).toContain('(drm_syncobj timeline point 2 completes after the previous point)');
    expect(text).toContain('(dma_fence_chain point 1 contains this fence)');
    expect(text).toContain('(dma_fence_array member 0)');
    expect(text).toContain('drm_dep:queue0');
  });

  it('with checks off, containers record nothing', () => {
    const rt = new Runtime({ checks: 'off' });
    const { array, point } = build(rt);
    expect(fenceWaitsOf(array)).toEqual([]);
    expect(fenceWaitsOf(point)).toEqual([]);
  });
});
