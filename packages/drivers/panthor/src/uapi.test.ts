import type { Fields, IoctlSchema } from '@dep/drm';
import { describe, expect, it } from 'vitest';
import { errnoOf, mapOp, qs, queue, setup, signal, unmapOp, wait, teardown } from './__fixtures__/setup.js';
import type { PanthorDevice, PanthorFile } from './device.js';
import { PANTHOR_IOCTLS, PanthorSyncOpFlags, PanthorVmBindFlags, PanthorVmBindOpFlags } from './uapi.js';

/**
 * A world: files a and b, each with VM 1 (+ VM 2 for a), BO 1 private to VM 1 and mapped,
 * BO 2 shared, group 1 (one queue), syncobj 1 signalled, syncobj 2 and 3 empty.
 */
async function world(dev: PanthorDevice): Promise<{ a: PanthorFile; b: PanthorFile }> {
  const mk = async () => {
    const f = dev.open();
    const { id } = await f.vmCreate({});
    await f.boCreate({ size: 65536n, exclusiveVmId: id });
    await f.boCreate({ size: 8192n });
    await f.vmBind({ vmId: id, ops: [mapOp(1, 0x100000n, 65536n)] });
    await f.groupCreate({ vmId: id, queues: [queue()] });
    await f.syncobjCreate({ flags: 1 });
    await f.syncobjCreate();
    await f.syncobjCreate();
    return f;
  };
  const a = await mk();
  const b = await mk();
  await a.vmCreate({});
  return { a, b };
}

type Name = keyof typeof PANTHOR_IOCTLS;
const CASES: Record<Name, { valid: Record<string, unknown>; call: (f: PanthorFile, a: never) => Promise<unknown> }> = {
  VM_CREATE: { valid: { userVaRange: 1n << 32n }, call: (f, a) => f.vmCreate(a) },
  VM_DESTROY: { valid: { id: 2 }, call: (f, a) => f.vmDestroy(a) },
  BO_CREATE: { valid: { size: 4096n, exclusiveVmId: 1 }, call: (f, a) => f.boCreate(a) },
  VM_BIND: { valid: { vmId: 1, flags: PanthorVmBindFlags.ASYNC, ops: [mapOp(2, 0x200000n, 4096n, [signal(2)])] }, call: (f, a) => f.vmBind(a) },
  GROUP_CREATE: { valid: { vmId: 1, priority: 1, queues: [queue(8192)] }, call: (f, a) => f.groupCreate(a) },
  GROUP_DESTROY: { valid: { groupHandle: 1 }, call: (f, a) => f.groupDestroy(a) },
  GROUP_SUBMIT: { valid: { groupHandle: 1, queueSubmits: [qs(0, 1, [wait(1), signal(2)])] }, call: (f, a) => f.groupSubmit(a) },
  GROUP_GET_STATE: { valid: { groupHandle: 1 }, call: (f, a) => f.groupGetState(a) },
};

describe('every panthor ioctl rejects bad arguments without changing state', () => {
  for (const name of Object.keys(CASES) as Name[]) {
    it(name, async () => {
      const env = setup();
      const { rt, dev } = env;
      const { a, b } = await rt.run(() => world(dev));
      const schema = PANTHOR_IOCTLS[name] as unknown as IoctlSchema<Fields>;
      const c = CASES[name];
      await rt.run(async () => {
        const mutations = schema.mutations(c.valid);
        let tried = 0;
        for (const m of mutations) {
          const variants: Array<{ args: unknown; why: string }> = [{ args: m.args, why: m.why }];
          // b's handles that a lacks: group 2? b has only group 1 — aim at a number b uses and a does not.
          if (m.table === 'vm') variants.push({ args: { ...(m.args as object), [m.field]: 3 }, why: 'a VM id a does not have' });
          for (const v of variants) {
            const expected = m.table !== undefined ? schema.missingErrno(m.field, schema.validate(v.args)) : schema.expectedError(v.args);
            if (expected === null && m.table !== undefined) continue;
            expect(expected, `${m.field}: ${v.why} must be an error`).not.toBeNull();
            const before = dev.snapshot();
            expect(await errnoOf(c.call(a, v.args as never)), `${m.field}: ${v.why}`).toBe(expected);
            expect(dev.snapshot(), `${m.field}: ${v.why} changed state`).toEqual(before);
            tried++;
          }
        }
        expect(tried).toBeGreaterThan(3);
        expect(await errnoOf(c.call(a, c.valid as never)), 'the valid call').toBeNull();
      });
      expect(await teardown(env, [a, b])).toEqual([]);
    });
  }

  it('errnos the ioctl bodies return (panthor_drv.c / panthor_sched.c / panthor_mmu.c), nothing changed', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { a, b } = await rt.run(() => world(dev));
    const E = PanthorSyncOpFlags;
    const T = PanthorVmBindOpFlags;
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['submit: queue index past the group', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(1, 1)] }), 'EINVAL'],
      ['submit: stream not 64-byte aligned', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [{ ...qs(0, 1), streamAddr: 0x100008n }] }), 'EINVAL'],
      ['submit: stream size not a multiple of 8', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [{ ...qs(0, 1), streamSize: 12 }] }), 'EINVAL'],
      ['submit: signal on a syncobj handle naming nothing', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [signal(9)])] }), 'EINVAL'],
      ['submit: wait on a syncobj handle naming nothing', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [wait(9), signal(2)])] }), 'ENOENT'],
      ['submit: wait on a syncobj without a fence', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [wait(3), signal(2)])] }), 'EINVAL'],
      ['submit: a point on a binary syncobj', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [{ flags: E.SIGNAL >>> 0, handle: 2, timelineValue: 3n }])] }), 'EINVAL'],
      ['submit: unknown handle type', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [{ flags: 2, handle: 1, timelineValue: 0n }])] }), 'EINVAL'],
      ['submit: the second job of a batch is bad', () => a.groupSubmit({ groupHandle: 1, queueSubmits: [qs(0, 1, [signal(2)]), qs(0, 1, [wait(9)])] }), 'ENOENT'],
      ['group create: more queues than the firmware takes', () => a.groupCreate({ vmId: 1, queues: [queue(), queue(), queue(), queue(), queue()] }), 'EINVAL'],
      ['group create: ring size not a power of two', () => a.groupCreate({ vmId: 1, queues: [queue(12288)] }), 'EINVAL'],
      ['group create: ring size below 4 KiB', () => a.groupCreate({ vmId: 1, queues: [queue(2048)] }), 'EINVAL'],
      ['group create: priority past REALTIME', () => a.groupCreate({ vmId: 1, priority: 4, queues: [queue()] }), 'EINVAL'],
      ['bind: syncs without ASYNC', () => a.vmBind({ vmId: 1, ops: [mapOp(2, 0x200000n, 4096n, [signal(2)])] }), 'EINVAL'],
      ['bind: an UNMAP naming a BO', () => a.vmBind({ vmId: 1, ops: [{ ...unmapOp(0x100000n, 4096n), boHandle: 2 }] }), 'EINVAL'],
      ['bind: op type 3', () => a.vmBind({ vmId: 1, ops: [{ ...unmapOp(0x100000n, 4096n), flags: (3 << 28) >>> 0 }] }), 'EINVAL'],
      ['bind: a BO private to another VM', () => a.vmBind({ vmId: 2, ops: [mapOp(1, 0x200000n, 4096n)] }), 'EINVAL'],
      ['bind: a misaligned VA', () => a.vmBind({ vmId: 1, ops: [mapOp(2, 0x200800n, 4096n)] }), 'EINVAL'],
      ['bind: beyond the BO', () => a.vmBind({ vmId: 1, ops: [mapOp(2, 0x200000n, 16384n)] }), 'EINVAL'],
      ['bind: MAP without a BO', () => a.vmBind({ vmId: 1, ops: [mapOp(0, 0x200000n, 4096n)] }), 'EINVAL'],
      ['bind: a BO handle of another file only', () => a.vmBind({ vmId: 1, ops: [mapOp(7, 0x200000n, 4096n)] }), 'EINVAL'],
      ['bind: SYNC_ONLY without ASYNC', () => a.vmBind({ vmId: 1, ops: [{ ...unmapOp(0n, 0n), flags: T.TYPE_SYNC_ONLY }] }), 'EINVAL'],
      ['bind: the second op is bad (the first is not applied)', () => a.vmBind({ vmId: 1, flags: 1, ops: [mapOp(2, 0x200000n, 4096n), mapOp(2, 0x201000n, 4095n)] }), 'EINVAL'],
    ];
    await rt.run(async () => {
      for (const [why, call, errno] of cases) {
        const before = dev.snapshot();
        expect(await errnoOf(call()), why).toBe(errno);
        expect(dev.snapshot(), `${why}: changed state`).toEqual(before);
      }
    });
    expect(await teardown(env, [a, b])).toEqual([]);
  });

  it('HIGH and REALTIME need CAP_SYS_NICE (EACCES)', async () => {
    const rtEnv = setup();
    const dev2 = new (rtEnv.dev.constructor as typeof PanthorDevice)({ runtime: rtEnv.rt, name: 'card9', capSysNice: false });
    const f = await rtEnv.rt.run(async () => {
      const file = dev2.open();
      const { id } = await file.vmCreate({});
      expect(await errnoOf(file.groupCreate({ vmId: id, priority: 2, queues: [queue()] }))).toBe('EACCES');
      expect(await errnoOf(file.groupCreate({ vmId: id, priority: 1, queues: [queue()] }))).toBeNull();
      await file.close();
      return file;
    });
    void f;
    await rtEnv.rt.run(() => dev2.fini());
    expect(await teardown(rtEnv, [])).toEqual([]);
  });

  it('ENOMEM at every allocation of GROUP_CREATE, VM_CREATE, BO_CREATE and a one-op VM_BIND: the errno, nothing changed, nothing leaks', async () => {
    const env = setup();
    const { rt, dev } = env;
    const { a, b } = await rt.run(() => world(dev));
    const hits: string[] = [];
    await rt.run(async () => {
      for (const [name, call] of [
        ['group', () => a.groupCreate({ vmId: 1, queues: [queue(), queue(), queue()] })],
        ['vm', () => a.vmCreate({})],
        ['bo', () => a.boCreate({ size: 8192n, exclusiveVmId: 1 })],
        // A single op splits an existing mapping (two new pieces) and signals a timeline point.
        ['bind async', () => a.vmBind({ vmId: 1, flags: PanthorVmBindFlags.ASYNC, ops: [mapOp(2, 0x104000n, 4096n, [wait(1), signal(3, 5n)])] })],
        ['bind sync', () => a.vmBind({ vmId: 1, ops: [unmapOp(0x108000n, 4096n)] })],
      ] as const) {
        for (let nth = 1; nth <= 12; nth++) {
          rt.faults.failAlloc({ nth, times: 1 });
          const before = dev.snapshot();
          const e = await errnoOf(call());
          rt.faults.clear();
          if (e === null) break;
          expect(e, `${name} #${nth}`).toBe('ENOMEM');
          expect(dev.snapshot(), `${name} #${nth}`).toEqual(before);
          hits.push(`${name}#${nth}`);
        }
      }
    });
    expect(hits.length).toBeGreaterThanOrEqual(10);
    await rt.runUntilIdle();
    expect(await teardown(env, [a, b])).toEqual([]);
  });
});
