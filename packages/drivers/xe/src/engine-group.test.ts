// hw engine groups: faulting LR queues and dma-fence jobs never share a group's engines.
import { describe, expect, it } from 'vitest';
import { BO_VA, client, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import type { XeDevice } from './device.js';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmCreateFlags } from './uapi.js';

async function faultClient(xe: XeDevice) {
  const f = xe.open();
  const { vmId } = await f.vmCreate({ flags: XeVmCreateFlags.LR_MODE | XeVmCreateFlags.FAULT_MODE });
  const { handle: bo } = await f.gemCreate({ size: 65536n, vmId });
  await f.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: BO_VA }] });
  const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
  return { f, bo, execQueueId, q: f.execQueues.lookup(execQueueId)!, buf: f.gem.lookup(bo)!.buffer! };
}

describe('hw engine groups', () => {
  it('a dma-fence job on compute suspends the faulting LR queue on render (same group), which resumes once the dma-fence job is done', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000, gpuConfig: { engines: { render: 1, compute: 1 } } });
    await rt.run(async () => {
      const group = xe.engineGroup('render');
      expect(group).toBe(xe.engineGroup('compute'));
      const l = await faultClient(xe);
      expect(l.q.preemptFence, 'fault mode: no preempt fence').toBeNull();
      await l.f.exec({ execQueueId: l.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 100, syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: 1n }] });
      await rt.sleep(10);
      expect(group.mode).toBe('lr');
      expect(xe.gpu.fw.contextInfo(l.q.gucId)?.engine).toBe('rcs0');
      const d = await client(xe, XeEngineClass.COMPUTE);
      const fd = await execWithFence(d.f, d.execQueueId, 20);
      expect(group.mode).toBe('dma-fence');
      expect(l.q.state.suspended).toBe(true);
      expect(xe.gpu.fw.contextInfo(l.q.gucId)?.engine, 'the LR queue is off the render engine').toBeNull();
      await fd.wait();
      expect(fd.getStatus()).toBe(1);
      expect(l.buf.read64(0), 'the LR job did not run meanwhile').toBe(0n);
      await rt.sleep(1);
      expect(group.mode, 'the resume worker switched back').toBe('lr');
      expect(l.q.state.suspended).toBe(false);
      while (l.buf.read64(0) !== 1n) await rt.sleep(1);
      expect(rt.now()).toBeGreaterThan(100 + 20);
      fd.put();
      await teardown(rt, xe, [l.f, d.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a dma-fence exec with in-syncs while a faulting queue is busy: -EAGAIN inside, waits for its in-syncs, then switches', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 10_000, gpuConfig: { engines: { render: 1, compute: 1, copy: 1 } } });
    await rt.run(async () => {
      const group = xe.engineGroup('render');
      const l = await faultClient(xe);
      await l.f.exec({ execQueueId: l.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 100 });
      const c = await client(xe, XeEngineClass.COPY);
      const dep = await execWithFence(c.f, c.execQueueId, 30);
      const d = await client(xe, XeEngineClass.COMPUTE);
      // Pass the copy job's fence to d through a sync_file.
      const { handle: s } = await c.f.syncobjCreate();
      const { handle: sd } = await d.f.syncobjCreate();
      c.f.syncobjs.lookup(s)!.replaceFence(dep); // what an out-sync would have installed
      const { fd: sf } = await c.f.syncobjHandleToFd({ handle: s, flags: 1 });
      await d.f.syncobjFdToHandle({ fd: sf, handle: sd, flags: 1 });
      sf.close();
      await rt.sleep(5);
      expect(group.mode).toBe('lr');
      const { handle: out } = await d.f.syncobjCreate();
      await d.f.exec({ execQueueId: d.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, syncs: [{ type: XeSyncType.SYNCOBJ, handle: sd }, { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: out }] });
      expect(dep.isSignaled(), 'the exec waited for its in-sync before suspending the busy LR queue').toBe(true);
      expect(group.mode).toBe('dma-fence');
      const fo = d.f.syncobjs.lookup(out)!.fenceGet()!;
      await fo.wait();
      expect(fo.getStatus()).toBe(1);
      fo.put();
      dep.put();
      await teardown(rt, xe, [l.f, c.f, d.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
