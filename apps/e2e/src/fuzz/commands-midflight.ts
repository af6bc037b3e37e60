/**
 * Teardown with work in flight: a valid submit (xe exec, panthor group submit, amdxdna
 * command) and, in the same task without waiting for the job, the destruction of its
 * context, of its VM, or the close of the whole file. Whatever the job's fate (ran,
 * cancelled, aborted), its out-fence must signal and nothing may leak; the model's view
 * afterwards is the one of the destroy alone plus a signalled out-syncobj.
 */
import { XE_SYNC_FLAG_SIGNAL, XeSyncType } from '@dep/driver-xe';
import { PanthorSyncOpFlags } from '@dep/driver-panthor';
import { AmdxdnaBoType, writeCommand } from '@dep/driver-amdxdna';
import type { DrmFile } from '@dep/drm';
import { expect } from 'vitest';
import { label } from './commands-core.js';
import { call, checkModel, type Cmd } from './harness.js';
import { chainPoint, dropNames, emptyFile, pick, slotVa, type Model } from './model.js';
import { AMDXDNA, PANTHOR, XE, type DeviceIndex, type World } from './world.js';

export type Teardown = 'ctx' | 'vm' | 'file';

export class SubmitThenTeardown implements Cmd {
  constructor(readonly d: DeviceIndex, readonly f: number, readonly ctxI: number, readonly out: number, readonly units: number, readonly teardown: Teardown) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.d];
    const fm = dm.files[this.f]!;
    const h = pick(fm.ctxs, this.ctxI);
    const ctx = h === undefined ? undefined : fm.ctxs.get(h);
    const vm = ctx?.vm == null ? undefined : dm.vms.get(ctx.vm);
    const out = this.d === AMDXDNA ? undefined : pick(fm.sync, this.out);
    const ready = h !== undefined && ctx !== undefined && (this.d === AMDXDNA ? ctx.configured : vm !== undefined && !vm.destroyed && out !== undefined);
    if (!ready) {
      checkModel(m, w);
      return;
    }
    const vmHandle = ctx.vm === null ? undefined : [...fm.vms].find(([, key]) => key === ctx.vm)?.[0];
    // A long-running xe VM is EBUSY while its queue lives, and its jobs export no fence.
    const lr = vm?.lr ?? false;
    const teardown: Teardown = this.teardown === 'vm' && (vmHandle === undefined || lr) ? 'ctx' : this.teardown;
    let cmd: number | undefined;
    if (this.d === AMDXDNA) {
      const cmds = [...fm.gem].filter(([, key]) => dm.objects.get(key)!.boType === AmdxdnaBoType.CMD).map(([x]) => x);
      cmd = cmds[this.out % Math.max(1, cmds.length)];
      if (cmd === undefined) {
        checkModel(m, w);
        return;
      }
      writeCommand(w.files[AMDXDNA][this.f]!.gem.lookup(cmd)!, { units: this.units });
    }
    const file = w.files[this.d][this.f]! as DrmFile;
    await call(w, async () => {
      if (this.d === XE) {
        await w.files[XE][this.f]!.exec({ execQueueId: h, numBatchBuffer: 1, address: slotVa(0), units: this.units, syncs: lr ? [] : [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: out! }] });
      } else if (this.d === PANTHOR) {
        const mapped = vm!.slots.has(0);
        await w.files[PANTHOR][this.f]!.groupSubmit({
          groupHandle: h,
          queueSubmits: [{ queueIndex: 0, streamSize: mapped ? this.units * 8 : 0, streamAddr: mapped ? slotVa(0) : 0n, latestFlush: 0, pad: 0, syncs: [{ flags: PanthorSyncOpFlags.SIGNAL, handle: out!, timelineValue: 0n }] }],
        });
      } else {
        const { seq } = await w.files[AMDXDNA][this.f]!.execCmd({ hwctx: h, cmdHandles: cmd!, cmdCount: 1, args: [] });
        expect(seq, 'seq').toBe(ctx.nextSeq);
      }
      if (teardown === 'file') await file.close();
      else if (teardown === 'vm') {
        if (this.d === XE) await w.files[XE][this.f]!.vmDestroy({ vmId: vmHandle! });
        else await w.files[PANTHOR][this.f]!.vmDestroy({ id: vmHandle! });
      } else if (this.d === XE) await w.files[XE][this.f]!.execQueueDestroy({ execQueueId: h });
      else if (this.d === PANTHOR) await w.files[PANTHOR][this.f]!.groupDestroy({ groupHandle: h });
      else await w.files[AMDXDNA][this.f]!.destroyHwctx({ handle: h });
    }, { faults: false });
    if (this.d === AMDXDNA) {
      ctx.nextSeq++;
      m.syncobjs.set(ctx.syncobj, 'signaled');
      m.points.set(ctx.syncobj, chainPoint(m.points.get(ctx.syncobj), ctx.nextSeq - 1n));
    } else if (!lr) {
      m.syncobjs.set(fm.sync.get(out!)!, 'signaled');
      m.points.set(fm.sync.get(out!)!, 0n);
    }
    if (teardown === 'file') {
      (w.files[this.d] as DrmFile[])[this.f] = (w.devices[this.d] as { open(): DrmFile }).open();
      for (const key of fm.vms.values()) {
        const v = dm.vms.get(key)!;
        v.destroyed = true;
        v.slots.clear();
      }
      dm.files[this.f] = emptyFile();
      dropNames(dm);
    } else if (teardown === 'vm') {
      vm!.destroyed = true;
      vm!.slots.clear();
      fm.vms.delete(vmHandle!);
    } else {
      fm.ctxs.delete(h);
    }
    checkModel(m, w);
  }
  toString = (): string => `SubmitThenTeardown(${label({ d: this.d, f: this.f })}, ctx #${this.ctxI}, out #${this.out}, ${this.units}u, ${this.teardown})`;
}
