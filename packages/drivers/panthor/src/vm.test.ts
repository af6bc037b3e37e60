import { DmaResvUsage } from '@dep/dma-resv';
import { describe, expect, it } from 'vitest';
import { errnoOf, fenceOf, mapOp, qs, queue, setup, signal, teardown, unmapOp, wait, waitAll } from './__fixtures__/setup.js';
import { PanthorVmBindFlags } from './uapi.js';
import type { PanthorVm } from './vm.js';

describe('VM bind', () => {
  it('an async bind waits for its in-fence on the bind queue; a submit waiting on the bind runs after it, from the new mapping', async () => {
    const env = setup();
    const { rt, dev } = env;
    const file = dev.open();
    const r = await rt.run(async () => {
      const { id: vmId } = await file.vmCreate({});
      const { handle: bo } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue()] });
      const { groupHandle: other } = await file.groupCreate({ vmId, queues: [queue()] });
      const [gate, bound, done] = [(await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle, (await file.syncobjCreate()).handle];
      // Something the bind must wait for: another group's 30 ms job.
      await file.vmCreate({}); // (a second VM, unused: ids stay per file)
      const { id: scratchVm } = await file.vmCreate({});
      void scratchVm;
      const { handle: sbo } = await file.boCreate({ size: 4096n, exclusiveVmId: vmId });
      await file.vmBind({ vmId, ops: [mapOp(sbo, 0x800000n, 4096n)] });
      await file.groupSubmit({ groupHandle: other, queueSubmits: [{ ...qs(0, 30, [signal(gate)]), streamAddr: 0x800000n }] });
      await file.vmBind({ vmId, flags: PanthorVmBindFlags.ASYNC, ops: [mapOp(bo, 0x100000n, 65536n, [wait(gate), signal(bound)])] });
      const vm = file.vms.lookup(vmId) as PanthorVm;
      // The VA tree has the mapping already; the bind job's fence is in the VM resv, BOOKKEEP.
      const inResv = vm.resv.getFences(DmaResvUsage.BOOKKEEP);
      const hasBind = inResv.some((f) => f.context === vm.bindQueue.context);
      for (const f of inResv) f.put();
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 5, [wait(bound), signal(done)])] });
      const fb = fenceOf(file, bound);
      const fd = fenceOf(file, done);
      const fg = fenceOf(file, gate);
      await waitAll(file, [done]);
      const out = { hasBind, tGate: fg.timestamp(), tBound: fb.timestamp(), tDone: fd.timestamp(), s: [fg, fb, fd].map((f) => f.getStatus()), mapped: vm.find(0x100000n) !== null };
      for (const f of [fb, fd, fg]) f.put();
      // Unmap synchronously; then a submit from that address faults (FATAL).
      await file.vmBind({ vmId, ops: [unmapOp(0x100000n, 65536n)] });
      const late = (await file.syncobjCreate()).handle;
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 5, [signal(late)])] });
      await waitAll(file, [late]);
      const fl = fenceOf(file, late);
      const lateStatus = fl.getStatus();
      fl.put();
      return { ...out, lateStatus, state: await file.groupGetState({ groupHandle }) };
    });
    expect(r.hasBind).toBe(true);
    expect(r.s).toEqual([1, 1, 1]);
    expect(r.tBound).toBeGreaterThanOrEqual(r.tGate);
    expect(r.tDone - r.tBound).toBeGreaterThanOrEqual(5);
    expect(r.mapped).toBe(true);
    expect(r.lateStatus).toBe(-22);
    expect(r.state.fatalQueues).toBe(1);
    expect(await teardown(env, [file])).toEqual([]);
  });

  it('a synchronous bind replaces what it overlaps (drm_gpuvm_sm_map); VM destroy leaves groups running on their reference', async () => {
    const env = setup();
    const { rt, dev } = env;
    const file = dev.open();
    const r = await rt.run(async () => {
      const { id: vmId } = await file.vmCreate({});
      const { handle: a } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
      const { handle: b } = await file.boCreate({ size: 8192n });
      await file.vmBind({ vmId, ops: [mapOp(a, 0x100000n, 65536n), mapOp(b, 0x104000n, 8192n)] });
      const vm = file.vms.lookup(vmId) as PanthorVm;
      const layout = vm.mappings().map((m) => [m.va, m.range]);
      const ext = vm.extobjs().length;
      const { groupHandle } = await file.groupCreate({ vmId, queues: [queue()] });
      const s = (await file.syncobjCreate()).handle;
      await file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 20, [signal(s)])] });
      const f = fenceOf(file, s);
      // The external BO b got the job's fence too (BOOKKEEP), as every mapped BO does.
      const bObj = file.gem.lookup(b)!;
      const inB = bObj.resv.getFences(DmaResvUsage.BOOKKEEP);
      const bHas = inB.some((x) => x === f);
      for (const x of inB) x.put();
      await rt.sleep(1);
      await file.vmDestroy({ id: vmId });
      await waitAll(file, [s]);
      const status = f.getStatus();
      f.put();
      // Submitting to a group whose VM was destroyed: EINVAL (panthor: vm->destroyed), nothing changed.
      const before = dev.snapshot();
      const late = await errnoOf(file.groupSubmit({ groupHandle, queueSubmits: [qs(0, 1)] }));
      expect(dev.snapshot()).toEqual(before);
      return { layout, ext, bHas, status, late };
    });
    expect(r.layout).toEqual([
      [0x100000n, 0x4000n],
      [0x104000n, 0x2000n],
      [0x106000n, 0xa000n],
    ]);
    expect(r.ext).toBe(1);
    expect(r.bHas).toBe(true);
    // The VM was closed (unmapped) while the job ran: the firmware had already fetched the stream.
    expect(r.status).toBe(1);
    expect(r.late).toBe('EINVAL');
    expect(await teardown(env, [file])).toEqual([]);
  });
});
