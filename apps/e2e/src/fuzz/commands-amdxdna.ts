/**
 * Fuzz commands of the amdxdna uAPI: BO create by type (one device heap per client, DEV
 * BOs only after it), hardware context create / config / destroy, command submit and
 * wait; each with its invalid variants and amdxdna's errnos (amdxdna_gem.c,
 * amdxdna_ctx.c, aie2_ctx.c).
 */
import { AmdxdnaBoType, AmdxdnaConfigHwctxParam, writeCommand } from '@dep/driver-amdxdna';
import { GEM_MAX_SIZE } from '@dep/drm';
import { expect } from 'vitest';
import { call, checkModel, expectErrno, objKey, type Cmd } from './harness.js';
import { bogus, chainPoint, handleOf, lowestFree, otherFiles, pick, type FileModel, type Model } from './model.js';
import { AMDXDNA, NPU_COLUMNS, type World } from './world.js';

const PAGE = 4096n;
const TYPES = [AmdxdnaBoType.SHMEM, AmdxdnaBoType.DEV_HEAP, AmdxdnaBoType.DEV, AmdxdnaBoType.CMD] as const;

function axFile(w: World, f: number) {
  return w.files[AMDXDNA][f]!;
}

/** The file's handles naming objects of a BO type. */
function handlesOfType(m: Model, fm: FileModel, type: number): Map<number, string> {
  return new Map([...fm.gem].filter(([, key]) => m.devs[AMDXDNA].objects.get(key)!.boType === type));
}

export type AxBoVariant = 'ok' | 'flags' | 'vaddr' | 'type' | 'zero' | 'huge';

/**
 * `DRM_IOCTL_AMDXDNA_CREATE_BO`: size rounded up to pages. EINVAL for flags, vaddr, an
 * unknown type, size 0 or too big, a DEV BO without a heap; EBUSY for a second heap.
 */
export class AxBoCreate implements Cmd {
  constructor(readonly f: number, readonly pages: number, readonly type: number, readonly variant: AxBoVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const type = TYPES[this.type % TYPES.length]!;
    const size = BigInt(this.pages) * PAGE;
    const what = this.toString();
    const create = (args: Record<string, unknown>) => () => file.createBo({ size: size - 1n, type, ...args });
    if (this.variant === 'flags') await expectErrno(w, 'EINVAL', what, create({ flags: 1n }));
    else if (this.variant === 'vaddr') await expectErrno(w, 'EINVAL', what, create({ vaddr: 0x1000n }));
    else if (this.variant === 'type') await expectErrno(w, 'EINVAL', what, create({ type: 7 }));
    else if (this.variant === 'zero') await expectErrno(w, 'EINVAL', what, create({ size: 0n }));
    else if (this.variant === 'huge') await expectErrno(w, 'EINVAL', what, create({ size: GEM_MAX_SIZE + 1n }));
    else if (type === AmdxdnaBoType.DEV_HEAP && fm.heap !== null) await expectErrno(w, 'EBUSY', `${what} (second heap)`, create({}));
    else if (type === AmdxdnaBoType.DEV && fm.heap === null) await expectErrno(w, 'EINVAL', `${what} (no heap)`, create({}));
    else {
      const { handle } = await call(w, create({}));
      expect(handle, 'BO handle').toBe(lowestFree(fm.gem));
      const obj = file.gem.lookup(handle)!;
      expect(obj.size, 'size rounded up to pages').toBe(size);
      const key = objKey(AMDXDNA, obj.id);
      expect(dm.objects.has(key), 'a new object').toBe(false);
      dm.objects.set(key, { key, dev: AMDXDNA, origin: key, vm: null, boType: type, size });
      fm.gem.set(handle, key);
      if (type === AmdxdnaBoType.DEV_HEAP) fm.heap = key;
    }
    checkModel(m, w);
  }
  toString = (): string => `AxBoCreate(${this.f}, ${this.pages}p, type #${this.type}, ${this.variant})`;
}

export type HwctxCreateVariant = 'ok' | 'tiles' | 'ext';

/**
 * `DRM_IOCTL_AMDXDNA_CREATE_HWCTX` of one column (4 core tiles): a context and a new
 * syncobj handle (allocated first). ENOENT without a heap, EINVAL for a tile count giving
 * no column or a non-zero `ext`, ENOSPC when every column is taken.
 */
export class AxHwctxCreate implements Cmd {
  constructor(readonly f: number, readonly variant: HwctxCreateVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const what = this.toString();
    const create = () => file.createHwctx({ numTiles: this.variant === 'tiles' ? 3 : 4, ext: this.variant === 'ext' ? 1n : 0n });
    const used = dm.files.reduce((n, x) => n + x.ctxs.size, 0);
    if (this.variant === 'ext') await expectErrno(w, 'EINVAL', what, create);
    else if (fm.heap === null) await expectErrno(w, 'ENOENT', `${what} (no heap)`, create);
    else if (this.variant === 'tiles') await expectErrno(w, 'EINVAL', what, create);
    else if (used >= NPU_COLUMNS) await expectErrno(w, 'ENOSPC', `${what} (every column taken)`, create);
    else {
      const free = lowestFree(fm.sync);
      const { handle, syncobjHandle } = await call(w, create);
      expect(syncobjHandle, 'the context\'s syncobj handle').toBe(free);
      expect(handle, 'hwctx handle').toBe(lowestFree(fm.ctxs));
      const sid = w.syncobjId(file.syncobjs.lookup(syncobjHandle)!);
      fm.sync.set(syncobjHandle, sid);
      m.syncobjs.set(sid, 'empty');
      m.points.set(sid, 0n);
      fm.ctxs.set(handle, { vm: null, syncobj: sid, configured: false, nextSeq: 1n, cu: null });
    }
    checkModel(m, w);
  }
  toString = (): string => `AxHwctxCreate(${this.f}, ${this.variant})`;
}

/** `DRM_IOCTL_AMDXDNA_DESTROY_HWCTX`: EINVAL for a handle naming nothing; the syncobj handle stays. */
export class AxHwctxDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const h = handleOf(dm, this.f, 'ctxs', this.i, this.bad);
    if (h === undefined || !fm.ctxs.has(h)) {
      await expectErrno(w, 'EINVAL', this.toString(), () => file.destroyHwctx({ handle: h ?? 1 }));
    } else {
      await call(w, () => file.destroyHwctx({ handle: h }));
      fm.ctxs.delete(h);
    }
    checkModel(m, w);
  }
  toString = (): string => `AxHwctxDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

export type HwctxConfigVariant = 'ok' | 'bad-ctx' | 'param' | 'unknown-param' | 'no-cus';

/**
 * `DRM_IOCTL_AMDXDNA_CONFIG_HWCTX(CONFIG_CU)` with one DEV BO: the context becomes READY.
 * EINVAL for an unknown parameter, a context naming nothing, one already configured, no
 * CUs or a CU BO that is no DEV BO of the file; EOPNOTSUPP for the debug-buffer parameter.
 */
export class AxHwctxConfig implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly cuI: number, readonly variant: HwctxConfigVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const what = this.toString();
    const h = handleOf(dm, this.f, 'ctxs', this.i, this.variant === 'bad-ctx');
    const devBos = handlesOfType(m, fm, AmdxdnaBoType.DEV);
    const cu = pick(devBos, this.cuI) ?? pick(fm.gem, this.cuI) ?? 1;
    const paramType = this.variant === 'param' ? AmdxdnaConfigHwctxParam.ASSIGN_DBG_BUF : this.variant === 'unknown-param' ? 9 : AmdxdnaConfigHwctxParam.CONFIG_CU;
    const config = () => file.configHwctx({ handle: h ?? 1, paramType, cuConfigs: this.variant === 'no-cus' ? [] : [{ cuBo: cu, cuFunc: 0, pad: 0 }] });
    const ctx = h === undefined ? undefined : fm.ctxs.get(h);
    if (this.variant === 'unknown-param' || ctx === undefined) await expectErrno(w, 'EINVAL', what, config);
    else if (this.variant === 'param') await expectErrno(w, 'EOPNOTSUPP', what, config);
    else if (ctx.configured) await expectErrno(w, 'EINVAL', `${what} (configured already)`, config);
    else if (this.variant === 'no-cus' || !devBos.has(cu)) await expectErrno(w, 'EINVAL', `${what} (no DEV BO)`, config);
    else {
      await call(w, config);
      ctx.configured = true;
      ctx.cu = fm.gem.get(cu)!;
    }
    checkModel(m, w);
  }
  toString = (): string => `AxHwctxConfig(${this.f}, #${this.i}, cu #${this.cuI}, ${this.variant})`;
}

export type ExecCmdVariant = 'ok' | 'args' | 'bad-ctx' | 'not-cmd' | 'bad-arg';

/**
 * `DRM_IOCTL_AMDXDNA_EXEC_CMD` of one ERT_START_CU command (written into a CMD BO first,
 * as userspace does). EINVAL for a handle naming no CMD BO, a context naming nothing or
 * not READY; ENOENT for an argument BO naming nothing. The context's syncobj gets the
 * command's point; `seq` counts from 1. With `args` one BO of the file (maybe imported from
 * a GPU) is an argument: the command's fence goes into its (shared) resv.
 */
export class AxExecCmd implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly cmdI: number, readonly units: number, readonly variant: ExecCmdVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const what = this.toString();
    const others = otherFiles(dm, this.f);
    const h = this.variant === 'bad-ctx' ? bogus(fm.ctxs, others.map((x) => x.ctxs)) : pick(fm.ctxs, this.i);
    const cmds = handlesOfType(m, fm, AmdxdnaBoType.CMD);
    const notCmd = [...fm.gem.keys()].find((x) => !cmds.has(x)) ?? bogus(fm.gem, others.map((x) => x.gem));
    const cmd = this.variant === 'not-cmd' ? notCmd : pick(cmds, this.cmdI);
    const arg = pick(fm.gem, this.units);
    const args = this.variant === 'bad-arg' ? [bogus(fm.gem, others.map((x) => x.gem))] : this.variant === 'args' && arg !== undefined ? [arg] : [];
    if (cmd !== undefined && cmds.has(cmd)) writeCommand(file.gem.lookup(cmd)!, { units: this.units });
    const exec = () => file.execCmd({ hwctx: h ?? 1, cmdHandles: cmd ?? notCmd, cmdCount: 1, args });
    const ctx = h === undefined ? undefined : fm.ctxs.get(h);
    if (cmd === undefined || !cmds.has(cmd)) await expectErrno(w, 'EINVAL', `${what} (no CMD BO)`, exec);
    else if (this.variant === 'bad-arg') await expectErrno(w, 'ENOENT', what, exec);
    else if (ctx === undefined || !ctx.configured) await expectErrno(w, 'EINVAL', `${what} (no READY context)`, exec);
    else {
      const { seq } = await call(w, exec);
      expect(seq, 'seq').toBe(ctx.nextSeq);
      ctx.nextSeq++;
      m.syncobjs.set(ctx.syncobj, 'signaled');
      m.points.set(ctx.syncobj, chainPoint(m.points.get(ctx.syncobj), seq));
    }
    checkModel(m, w);
  }
  toString = (): string => `AxExecCmd(${this.f}, ctx #${this.i}, cmd #${this.cmdI}, ${this.units}u, ${this.variant})`;
}

export type WaitCmdVariant = 'ok' | 'bad-ctx' | 'zero' | 'future';

/** `DRM_IOCTL_AMDXDNA_WAIT_CMD`: EINVAL for a context naming nothing or a `seq` not submitted (0 or ≥ the next). */
export class AxWaitCmd implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly seqI: number, readonly variant: WaitCmdVariant) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const dm = m.devs[AMDXDNA];
    const fm = dm.files[this.f]!;
    const file = axFile(w, this.f);
    const what = this.toString();
    const h = handleOf(dm, this.f, 'ctxs', this.i, this.variant === 'bad-ctx');
    const ctx = h === undefined ? undefined : fm.ctxs.get(h);
    const submitted = ctx === undefined ? 0n : ctx.nextSeq - 1n;
    const seq = this.variant === 'zero' ? 0n : this.variant === 'future' || submitted === 0n ? submitted + 1n : 1n + (BigInt(this.seqI) % submitted);
    const wait = () => file.waitCmd({ hwctx: h ?? 1, seq, timeout: 1 });
    if (ctx === undefined || seq === 0n || seq > submitted) await expectErrno(w, 'EINVAL', what, wait);
    else await call(w, wait);
    checkModel(m, w);
  }
  toString = (): string => `AxWaitCmd(${this.f}, ctx #${this.i}, seq #${this.seqI}, ${this.variant})`;
}
