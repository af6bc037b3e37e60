// Every xe ioctl against every single-fault mutation its schema generates (unknown flags,
// non-zero pad, out-of-range values, wrong types, arrays shorter than their count, unknown
// fields, bad pointers, handles naming nothing): the schema's errno (or ENOENT for a handle
// naming nothing), and the device unchanged.
import type { IoctlSchema, Fields } from '@dep/drm';
import { errnoOf } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { BO_VA, client, setup, teardown } from './__fixtures__/setup.js';
import type { XeFile } from './file.js';
import {
  XE_EXEC,
  XE_EXEC_QUEUE_CREATE,
  XE_EXEC_QUEUE_DESTROY,
  XE_SYNC_FLAG_SIGNAL,
  XE_VM_BIND,
  XE_VM_CONVERT_FENCE,
  XE_VM_CREATE,
  XE_VM_DESTROY,
  XeEngineClass,
  XeSyncType,
} from './uapi.js';

interface Case {
  readonly schema: IoctlSchema<Fields>;
  readonly valid: Record<string, unknown>;
  readonly call: (f: XeFile, args: never) => Promise<unknown>;
}

describe('schema mutations', () => {
  it('every mutation of every xe ioctl: the declared errno, nothing changed', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const { handle: sync } = await a.f.syncobjCreate();
      const cases: Case[] = [
        { schema: XE_VM_CREATE, valid: { flags: 0 }, call: (f, x) => f.vmCreate(x) },
        { schema: XE_VM_DESTROY, valid: { vmId: a.vmId }, call: (f, x) => f.vmDestroy(x) },
        { schema: XE_VM_BIND, valid: { vmId: a.vmId, binds: [{ obj: a.bo, range: 4096n, addr: 0x40_0000n }], syncs: [] }, call: (f, x) => f.vmBind(x) },
        { schema: XE_EXEC_QUEUE_CREATE, valid: { vmId: a.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] }, call: (f, x) => f.execQueueCreate(x) },
        { schema: XE_EXEC_QUEUE_DESTROY, valid: { execQueueId: a.execQueueId }, call: (f, x) => f.execQueueDestroy(x) },
        {
          schema: XE_EXEC,
          valid: { execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: sync }] },
          call: (f, x) => f.exec(x),
        },
        { schema: XE_VM_CONVERT_FENCE, valid: { vmId: a.vmId, syncs: [{ handle: sync, flags: 1, bo: a.bo, offset: 0n, value: 1n }] }, call: (f, x) => f.vmConvertFence(x) },
      ];
      let tried = 0;
      for (const c of cases) {
        for (const m of c.schema.mutations(c.valid)) {
          const expected = c.schema.expectedError(m.args) ?? (m.table !== undefined ? 'ENOENT' : null);
          if (expected === null) continue;
          const before = xe.snapshot();
          const got = await errnoOf(c.call(a.f, m.args as never));
          expect([c.schema.name, m.why, got]).toEqual([c.schema.name, m.why, expected]);
          expect(xe.snapshot(), `${c.schema.name}: ${m.why}`).toEqual(before);
          tried++;
        }
      }
      expect(tried).toBeGreaterThan(60);
      await teardown(rt, xe, [a.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
