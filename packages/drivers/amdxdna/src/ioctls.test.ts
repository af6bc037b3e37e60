// Bad arguments: the right errno and nothing changed — another client's handles, unknown
// flags and types, every single-fault mutation the schemas generate. Firmware errors.
import { describe, expect, it } from 'vitest';
import { isDepError } from '@dep/kernel';
import type { AmdxdnaDevice } from './device.js';
import type { AmdxdnaFile } from './file.js';
import { getCmdState, writeChain } from './hwctx.js';
import type { Fields, IoctlSchema } from '@dep/drm';
import {
  AmdxdnaBoType,
  AmdxdnaConfigHwctxParam,
  AmdxdnaGetParam,
  CONFIG_HWCTX,
  ChainLayout,
  CREATE_BO,
  CREATE_HWCTX,
  DESTROY_HWCTX,
  ErtCmdState,
  EXEC_CMD,
  GET_BO_INFO,
  GET_INFO,
  WAIT_CMD,
} from './uapi.js';
import { client, cmdBo, errnoOf, setup, shutdownReports } from './__fixtures__/setup.js';

/** Everything a failed ioctl must leave alone: the core snapshot plus each context's counters. */
function state(dev: AmdxdnaDevice): unknown {
  return {
    snap: dev.snapshot(),
    ctx: dev.files.map((f) => f.hwctxs.entries().map(([h, c]) => [h, c.status, c.nextSeq, c.sem.count, { ...c.stats }, c.queue.stats.pushed])),
    heaps: dev.files.map((f) => f.heap?.id ?? 0),
    fw: dev.npu.fw.contexts.map((c) => c.name),
  };
}

async function expectErrno(dev: AmdxdnaDevice, p: () => Promise<unknown>, errno: string, what: string): Promise<void> {
  const before = state(dev);
  expect(await errnoOf(p()), what).toBe(errno);
  expect(state(dev), `${what}: nothing changed`).toEqual(before);
}

async function twoClients(dev: AmdxdnaDevice): Promise<{ a: AmdxdnaFile; ctxA: number; cmdA: number; argA: number; b: AmdxdnaFile; ctxB2: number; cmdB: number; argB: number }> {
  const { f: a, ctx: ctxA } = await client(dev);
  const cmdA = await cmdBo(a, 1);
  const { handle: argA } = await a.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
  const { f: b } = await client(dev);
  const { handle: ctxB2 } = await b.createHwctx({ numTiles: 4 });
  for (let i = 0; i < 3; i++) await b.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
  const cmdB = await cmdBo(b, 1);
  const { handle: argB } = await b.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
  return { a, ctxA, cmdA, argA, b, ctxB2, cmdB, argB };
}

describe('bad arguments', () => {
  it('EXEC_CMD: another client\'s handles, wrong BO type, unknown type, MBZ fields, counts', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { a, ctxA, cmdA, argA, ctxB2, cmdB, argB } = await twoClients(dev);
      expect(a.hwctxs.has(ctxB2)).toBe(false);
      expect(a.gem.has(cmdB) || a.gem.has(argB)).toBe(false);
      const ok = { hwctx: ctxA, cmdHandles: cmdA, cmdCount: 1, args: [argA] };
      await expectErrno(dev, () => a.execCmd({ ...ok, hwctx: ctxB2 }), 'EINVAL', "another client's hwctx");
      await expectErrno(dev, () => a.execCmd({ ...ok, cmdHandles: cmdB }), 'EINVAL', "another client's command BO");
      await expectErrno(dev, () => a.execCmd({ ...ok, args: [argA, argB] }), 'ENOENT', "another client's argument BO");
      await expectErrno(dev, () => a.execCmd({ ...ok, cmdHandles: argA }), 'EINVAL', 'a SHMEM BO as the command');
      await expectErrno(dev, () => a.execCmd({ ...ok, type: 1 as never }), 'EINVAL', 'SUBMIT_DEPENDENCY');
      await expectErrno(dev, () => a.execCmd({ ...ok, ext: 1n }), 'EINVAL', 'ext');
      await expectErrno(dev, () => a.execCmd({ ...ok, extFlags: 8n }), 'EINVAL', 'ext_flags');
      await expectErrno(dev, () => a.execCmd({ ...ok, cmdCount: 2 }), 'EINVAL', 'cmd_count 2');
      await expectErrno(dev, () => a.execCmd({ ...ok, argCount: 2 }), 'EFAULT', 'arg_count past the array');
      // And it works with the right handles; B's objects are untouched by A's submit.
      const { seq } = await a.execCmd(ok);
      await a.waitCmd({ hwctx: ctxA, seq });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('every single-fault mutation of EXEC_CMD and WAIT_CMD: the declared errno, nothing changed', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { a, ctxA, cmdA, argA } = await twoClients(dev);
      const cases: Array<[string, (args: unknown) => Promise<unknown>, ReturnType<typeof EXEC_CMD.mutations>, typeof EXEC_CMD | typeof WAIT_CMD]> = [
        ['EXEC_CMD', (x) => a.execCmd(x as never), EXEC_CMD.mutations({ hwctx: ctxA, cmdHandles: cmdA, cmdCount: 1, args: [argA] }), EXEC_CMD],
        ['WAIT_CMD', (x) => a.waitCmd(x as never), WAIT_CMD.mutations({ hwctx: ctxA, seq: 1n, timeout: 1 }), WAIT_CMD],
      ];
      let n = 0;
      for (const [name, call, muts, schema] of cases) {
        for (const m of muts) {
          let errno = schema.expectedError(m.args);
          if (errno === null && m.table !== undefined) errno = (schema as typeof EXEC_CMD).missingErrno(m.field, schema.validate(m.args) as never);
          if (errno === null && name === 'WAIT_CMD') errno = 'EINVAL'; // seq 1 was never submitted
          expect(errno, `${name} ${m.field}: ${m.why}`).not.toBeNull();
          await expectErrno(dev, () => call(m.args), errno!, `${name} ${m.field}: ${m.why}`);
          n++;
        }
      }
      expect(n).toBeGreaterThan(20);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('every single-fault mutation of the other ioctls: the declared errno, nothing changed', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const { handle: ctx2 } = await f.createHwctx({ numTiles: 4 });
      const { handle: cu } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
      type Case = [IoctlSchema<Fields>, Record<string, unknown>, (x: unknown) => Promise<unknown>];
      const cases: Case[] = [
        [CREATE_BO, { size: 4096n, type: AmdxdnaBoType.SHMEM }, (x) => f.createBo(x as never)],
        [CREATE_HWCTX, { numTiles: 4 }, (x) => f.createHwctx(x as never)],
        [DESTROY_HWCTX, { handle: ctx }, (x) => f.destroyHwctx(x as never)],
        [CONFIG_HWCTX, { handle: ctx2, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] }, (x) => f.configHwctx(x as never)],
        [GET_BO_INFO, { handle: cu }, (x) => f.getBoInfo(x as never)],
        [GET_INFO, { param: AmdxdnaGetParam.QUERY_AIE_VERSION }, (x) => f.getInfo(x as never)],
      ];
      let n = 0;
      for (const [schema, valid, call] of cases) {
        for (const m of schema.mutations(valid)) {
          let errno = schema.expectedError(m.args);
          if (errno === null && m.table !== undefined) errno = schema.missingErrno(m.field, schema.validate(m.args));
          expect(errno, `${schema.name} ${m.field}: ${m.why}`).not.toBeNull();
          await expectErrno(dev, () => call(m.args), errno!, `${schema.name} ${m.field}: ${m.why}`);
          n++;
        }
      }
      expect(n).toBeGreaterThan(50);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('CREATE_BO, CREATE_HWCTX, DESTROY_HWCTX, GET_BO_INFO, GET_INFO', async () => {
    const { rt, dev } = setup({ npu: { columns: 2 } });
    await rt.run(async () => {
      const f = dev.open();
      await expectErrno(dev, () => f.createHwctx({ numTiles: 4 }), 'ENOENT', 'no device heap');
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV }), 'EINVAL', 'DEV BO without a heap');
      await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV_HEAP });
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV_HEAP }), 'EBUSY', 'a second heap');
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: 0 as never }), 'EINVAL', 'BO type 0');
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: 5 as never }), 'EINVAL', 'BO type 5');
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM, flags: 1n }), 'EINVAL', 'flags MBZ');
      await expectErrno(dev, () => f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM, vaddr: 4096n }), 'EINVAL', 'vaddr MBZ');
      await expectErrno(dev, () => f.createBo({ size: 0n, type: AmdxdnaBoType.SHMEM }), 'EINVAL', 'size 0');
      await expectErrno(dev, () => f.createHwctx({ numTiles: 0 }), 'EINVAL', 'num_tiles 0');
      await expectErrno(dev, () => f.createHwctx({ numTiles: 3 }), 'EINVAL', 'fewer tiles than a column');
      await expectErrno(dev, () => f.createHwctx({ numTiles: 12 }), 'EINVAL', 'more columns than the device has');
      await expectErrno(dev, () => f.createHwctx({ numTiles: 4, ext: 1n }), 'EINVAL', 'ext MBZ');
      const { handle: c1 } = await f.createHwctx({ numTiles: 8 });
      await expectErrno(dev, () => f.createHwctx({ numTiles: 4 }), 'ENOSPC', 'no free column');
      await expectErrno(dev, () => f.destroyHwctx({ handle: c1 + 1 }), 'EINVAL', 'destroy: no such hwctx');
      await expectErrno(dev, () => f.destroyHwctx({ handle: c1, pad: 1 }), 'EINVAL', 'destroy: pad MBZ');
      await expectErrno(dev, () => f.getBoInfo({ handle: 77 }), 'ENOENT', 'bo info: no such BO');
      await expectErrno(dev, () => f.getInfo({ param: 77 }), 'EOPNOTSUPP', 'unknown info parameter');
      const info = await f.getInfo({ param: AmdxdnaGetParam.QUERY_HW_CONTEXTS });
      expect(info).toMatchObject({ param: 'hw-contexts', contexts: [{ numCol: 2, startCol: 0 }] });
      expect(CREATE_BO.expectedError({ size: 1n, type: AmdxdnaBoType.CMD })).toBeNull();
      expect(CREATE_HWCTX.expectedError({ numTiles: 4, qosP: 1n })).toBeNull();
      await f.destroyHwctx({ handle: c1 });
      const { handle: c2 } = await f.createHwctx({ numTiles: 4 });
      expect(c2).toBe(c1);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('firmware errors', () => {
  it('an execbuf the firmware fails: ERROR in the command BO, the fence carries the errno, the context goes on', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      dev.npu.faults.firmwareError({ site: 'aie:execbuf', nth: 2 });
      const cmds = [await cmdBo(f, 1), await cmdBo(f, 1), await cmdBo(f, 1)];
      for (const c of cmds) await f.execCmd({ hwctx: ctx, cmdHandles: c, cmdCount: 1 });
      const outs = [1n, 2n, 3n].map((s) => hw.outFence(s)!);
      await f.waitCmd({ hwctx: ctx, seq: 3n });
      expect(cmds.map((c) => getCmdState(f.gem.lookup(c)!))).toEqual([ErtCmdState.COMPLETED, ErtCmdState.ERROR, ErtCmdState.COMPLETED]);
      const st = outs.map((x) => x.getStatus());
      expect(st[0]).toBe(1);
      expect(st[1]).toBeLessThan(0);
      expect(st[2]).toBe(1);
      for (const x of outs) x.put();
      expect(hw.stats).toMatchObject({ completed: 3, errors: 1, resets: 0 });
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('an opcode other than ERT_START_CU / ERT_CMD_CHAIN fails in run_job: ABORT, -EINVAL on the fence', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      const c = await cmdBo(f, 1, 5);
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: c, cmdCount: 1 });
      const out = hw.outFence(seq)!;
      await f.waitCmd({ hwctx: ctx, seq });
      expect(out.getStatus()).toBe(-22);
      expect(getCmdState(f.gem.lookup(c)!)).toBe(ErtCmdState.ABORT);
      out.put();
      expect(hw.sem.count).toBe(4);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('errors are DepErrors', () => {
  it('with the kernel errno number', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      try {
        await f.createHwctx({ numTiles: 4 });
        expect.unreachable();
      } catch (e) {
        expect(isDepError(e, 'ENOENT')).toBe(true);
      }
      await dev.fini();
    });
  });
});

describe('CONFIG_HWCTX', () => {
  it('INIT until the CUs are configured (EXEC_CMD EINVAL before); once only; bad types, BOs and firmware errors', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f: other } = await client(dev);
      for (let i = 0; i < 5; i++) await other.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
      const { handle: otherDev } = await other.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
      const f = dev.open();
      await f.createBo({ size: 65536n, type: AmdxdnaBoType.DEV_HEAP });
      const { handle: ctx } = await f.createHwctx({ numTiles: 4 });
      const hw = f.hwctxs.lookup(ctx)!;
      expect(hw.status).toBe('init');
      const cmd = await cmdBo(f, 1);
      await expectErrno(dev, () => f.execCmd({ hwctx: ctx, cmdHandles: cmd, cmdCount: 1 }), 'EINVAL', 'exec before the CUs are configured');
      const { handle: cu } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
      const { handle: shmem } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
      const cfg = (cuBo: number): { cuBo: number; cuFunc: number; pad: number } => ({ cuBo, cuFunc: 0, pad: 0 });
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, paramType: 7, cuConfigs: [cfg(cu)] }), 'EINVAL', 'unknown param type');
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, paramType: AmdxdnaConfigHwctxParam.ASSIGN_DBG_BUF }), 'EOPNOTSUPP', 'debug buffer');
      await expectErrno(dev, () => f.configHwctx({ handle: ctx + 1, cuConfigs: [cfg(cu)] }), 'EINVAL', 'no such hwctx');
      await expectErrno(dev, () => f.configHwctx({ handle: ctx }), 'EINVAL', 'zero CUs');
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, cuConfigs: [cfg(shmem)] }), 'EINVAL', 'a SHMEM BO as CU');
      expect(f.gem.has(otherDev)).toBe(false);
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, cuConfigs: [cfg(cu), cfg(otherDev)] }), 'EINVAL', "another client's CU BO");
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, numCus: 2, cuConfigs: [cfg(cu)] }), 'EFAULT', 'num_cus past the array');
      dev.npu.faults.firmwareError({ site: 'aie:config-cu', nth: 1 });
      expect(await errnoOf(f.configHwctx({ handle: ctx, cuConfigs: [cfg(cu)] }))).toBe('EIO');
      expect(hw.status).toBe('init');
      expect(f.gem.lookup(cu)!.refcount).toBe(1);
      await f.configHwctx({ handle: ctx, cuConfigs: [cfg(cu)] });
      expect(hw.status).toBe('ready');
      expect(hw.stats.cuConfigs).toBe(1);
      await expectErrno(dev, () => f.configHwctx({ handle: ctx, cuConfigs: [cfg(cu)] }), 'EINVAL', 'configured twice');
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: cmd, cmdCount: 1 });
      await f.waitCmd({ hwctx: ctx, seq });
      expect(getCmdState(f.gem.lookup(cmd)!)).toBe(ErtCmdState.COMPLETED);
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('mailbox full', () => {
  it('with a ring smaller than the credit limit needs, ENOSPC from the mailbox becomes the job error; the context goes on', async () => {
    const { rt, dev } = setup({ npu: { columns: 4, x2iRingWords: 16 } });
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      for (let i = 0; i < 4; i++) await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      const outs = [1n, 2n, 3n, 4n].map((s) => hw.outFence(s)!);
      for (const o of outs) await o.wait();
      const st = outs.map((o) => o.getStatus());
      expect(st).toContain(-28);
      expect(st[0]).toBe(1);
      for (const o of outs) o.put();
      await rt.sleep(1); // the failed jobs return their job_sem counts when freed (aie2_sched_job_free)
      expect(hw.sem.count).toBe(4);
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1 });
      const out = hw.outFence(seq)!;
      await out.wait();
      expect(out.getStatus()).toBe(1);
      out.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});

describe('command chains (ERT_CMD_CHAIN)', () => {
  it('one chain message for the list; COMPLETED; a firmware failure names its index in error_index; malformed lists are EINVAL', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const hw = f.hwctxs.lookup(ctx)!;
      const subs = [await cmdBo(f, 2), await cmdBo(f, 3), await cmdBo(f, 4)];
      const chainBo = async (handles: number[]): Promise<number> => {
        const { handle } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.CMD });
        writeChain(f.gem.lookup(handle)!, handles);
        return handle;
      };
      const ok = await chainBo(subs);
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: ok, cmdCount: 1 });
      const out = hw.outFence(seq)!;
      await f.waitCmd({ hwctx: ctx, seq });
      expect(out.getStatus()).toBe(1);
      out.put();
      expect(getCmdState(f.gem.lookup(ok)!)).toBe(ErtCmdState.COMPLETED);
      // The firmware fails the second command of the list.
      dev.npu.faults.firmwareError({ site: 'aie:chain', nth: 2 });
      const bad = await chainBo(subs);
      const { seq: s2 } = await f.execCmd({ hwctx: ctx, cmdHandles: bad, cmdCount: 1 });
      const out2 = hw.outFence(s2)!;
      await f.waitCmd({ hwctx: ctx, seq: s2 });
      expect(out2.getStatus()).toBeLessThan(0);
      out2.put();
      const badObj = f.gem.lookup(bad)!;
      expect(getCmdState(badObj)).toBe(ErtCmdState.ERROR);
      expect(badObj.buffer!.read32(ChainLayout.ERROR_INDEX_OFFSET)).toBe(1);
      // Malformed lists: a SHMEM BO in it, a chain in a chain, another client's handle, an empty list.
      const { handle: shmem } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
      const withShmem = await chainBo([subs[0]!, shmem]);
      await expectErrno(dev, () => f.execCmd({ hwctx: ctx, cmdHandles: withShmem, cmdCount: 1 }), 'EINVAL', 'a SHMEM BO in the list');
      const empty = await chainBo([subs[0]!]);
      f.gem.lookup(empty)!.buffer!.write32(ChainLayout.COUNT_OFFSET, 0);
      await expectErrno(dev, () => f.execCmd({ hwctx: ctx, cmdHandles: empty, cmdCount: 1 }), 'EINVAL', 'an empty list');
      const nested = await chainBo([ok]);
      await expectErrno(dev, () => f.execCmd({ hwctx: ctx, cmdHandles: nested, cmdCount: 1 }), 'EINVAL', 'a chain in the list');
      const foreign = await chainBo([999]);
      await expectErrno(dev, () => f.execCmd({ hwctx: ctx, cmdHandles: foreign, cmdCount: 1 }), 'EINVAL', 'a handle naming nothing');
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});
