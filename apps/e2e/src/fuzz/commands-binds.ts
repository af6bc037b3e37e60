/**
 * A VM_BIND of two ops on xe or panthor — MAP a page of a BO at one slot, then UNMAP
 * another — valid, or with the second op misaligned: then the whole ioctl is EINVAL and
 * the first op must not have happened (every op is checked before any is applied).
 */
import { PanthorVmBindOpFlags } from '@dep/driver-panthor';
import { XeVmBindOp } from '@dep/driver-xe';
import { label } from './commands-core.js';
import { call, checkModel, expectErrno, type Cmd } from './harness.js';
import { pick, slotVa, type Model } from './model.js';
import { PANTHOR, XE, type World } from './world.js';

const PAGE = 4096n;

export class BindPair implements Cmd {
  constructor(readonly d: typeof XE | typeof PANTHOR, readonly f: number, readonly vmI: number, readonly boI: number, readonly mapSlot: number, readonly unmapSlot: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[this.d];
    const fm = dm.files[this.f]!;
    const vmId = pick(fm.vms, this.vmI);
    const h = pick(fm.gem, this.boI);
    const obj = h === undefined ? undefined : dm.objects.get(fm.gem.get(h)!)!;
    const vmKey = vmId === undefined ? undefined : fm.vms.get(vmId)!;
    if (vmId === undefined || h === undefined || obj === undefined || (obj.vm !== null && obj.vm !== vmKey)) {
      checkModel(m, w);
      return;
    }
    const mapVa = slotVa(this.mapSlot);
    const unmapVa = slotVa(this.unmapSlot) + (this.bad ? 0x800n : 0n);
    const bind = (): Promise<void> =>
      this.d === XE
        ? w.files[XE][this.f]!.vmBind({
            vmId,
            binds: [
              { obj: h, objOffset: 0n, range: PAGE, addr: mapVa, op: XeVmBindOp.MAP },
              { obj: 0, objOffset: 0n, range: PAGE, addr: unmapVa, op: XeVmBindOp.UNMAP },
            ],
          })
        : w.files[PANTHOR][this.f]!.vmBind({
            vmId,
            ops: [
              { flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle: h, boOffset: 0n, va: mapVa, size: PAGE, syncs: [] },
              { flags: PanthorVmBindOpFlags.TYPE_UNMAP, boHandle: 0, boOffset: 0n, va: unmapVa, size: PAGE, syncs: [] },
            ],
          });
    if (this.bad) {
      await expectErrno(w, 'EINVAL', `${this.toString()} (second op misaligned)`, bind);
    } else {
      await call(w, bind);
      const vm = dm.vms.get(vmKey!)!;
      vm.slots.set(this.mapSlot, obj.key);
      vm.slots.delete(this.unmapSlot);
    }
    checkModel(m, w);
  }
  toString = (): string => `BindPair(${label({ d: this.d, f: this.f })}, vm #${this.vmI}, bo #${this.boI}, map ${this.mapSlot}, unmap ${this.unmapSlot}${this.bad ? ', bad' : ''})`;
}
