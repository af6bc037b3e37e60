// Every core ioctl rejects bad arguments with its declared errno and changes nothing:
// for each ioctl, every single-fault mutation of valid arguments its schema generates
// (unknown flags, non-zero pad, out-of-range and misaligned values, wrong types, arrays
// shorter than their count, unknown fields, bad pointers, handles naming nothing, and
// handles of another file) is called, and the device snapshot must be the same after.
import { SyncFile } from '@dep/dma-fence';
import { isDepError, type ErrnoName } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, setup, type TestEnv } from './__fixtures__/setup.js';
import type { DrmFile } from './file.js';
import { GpuVm } from './gpuvm.js';
import { DRM_CORE_IOCTLS } from './ioctls.js';
import { OutSyncs } from './submit.js';
import type { IoctlSchema, Fields } from './validate.js';

type IoctlName = keyof typeof DRM_CORE_IOCTLS;

interface World extends TestEnv {
  /** The file under test: gem 1–2, syncobjs 1 (signalled), 2 (timeline point 1, signalled), vm 1. */
  readonly a: DrmFile;
  /** Another file with more of everything, so its handles 3+ name nothing in `a`. */
  readonly b: DrmFile;
  readonly flinkName: number;
  readonly bDmaBufFd: unknown;
  readonly syncFile: SyncFile;
  readonly aSyncobjFd: unknown;
}

async function world(): Promise<World> {
  const env = setup();
  const { rt, dev } = env;
  const a = dev.open();
  const b = dev.open();
  a.vms.alloc(new GpuVm(dev));
  for (let i = 0; i < 3; i++) b.vms.alloc(new GpuVm(dev));
  await a.gemCreate({ size: 4096n });
  await a.gemCreate({ size: 8192n });
  for (let i = 0; i < 5; i++) await b.gemCreate({ size: 4096n });
  await a.syncobjCreate({ flags: 1 });
  const t = (await a.syncobjCreate()).handle;
  const p1 = newFence(rt);
  OutSyncs.prepare(a, [{ handle: t, point: 1n }]).install(p1);
  p1.signal();
  p1.put();
  for (let i = 0; i < 5; i++) await b.syncobjCreate({ flags: 1 });
  const { name } = await a.gemFlink({ handle: 1 });
  const { fd } = await b.primeHandleToFd({ handle: 5 });
  const { fd: syncFile } = await a.syncobjHandleToFd({ handle: 1, flags: 1 });
  const { fd: sfd } = await a.syncobjHandleToFd({ handle: 1 });
  return { ...env, a, b, flinkName: name, bDmaBufFd: fd, syncFile, aSyncobjFd: sfd };
}

interface Case {
  readonly valid: (w: World) => Record<string, unknown>;
  readonly call: (f: DrmFile, args: never) => Promise<unknown>;
}

const CASES: Record<IoctlName, readonly Case[]> = {
  DRM_IOCTL_GEM_CREATE: [{ valid: () => ({ size: 4096n, vmId: 1 }), call: (f, a) => f.gemCreate(a) }],
  DRM_IOCTL_GEM_CLOSE: [{ valid: () => ({ handle: 2 }), call: (f, a) => f.gemClose(a) }],
  DRM_IOCTL_GEM_FLINK: [{ valid: () => ({ handle: 2 }), call: (f, a) => f.gemFlink(a) }],
  DRM_IOCTL_GEM_OPEN: [{ valid: (w) => ({ name: w.flinkName }), call: (f, a) => f.gemOpen(a) }],
  DRM_IOCTL_PRIME_HANDLE_TO_FD: [{ valid: () => ({ handle: 2, flags: 2 }), call: (f, a) => f.primeHandleToFd(a) }],
  DRM_IOCTL_PRIME_FD_TO_HANDLE: [{ valid: (w) => ({ fd: w.bDmaBufFd }), call: (f, a) => f.primeFdToHandle(a) }],
  DRM_IOCTL_SYNCOBJ_CREATE: [{ valid: () => ({ flags: 1 }), call: (f, a) => f.syncobjCreate(a) }],
  DRM_IOCTL_SYNCOBJ_DESTROY: [{ valid: () => ({ handle: 1 }), call: (f, a) => f.syncobjDestroy(a) }],
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: [
    { valid: () => ({ handle: 1 }), call: (f, a) => f.syncobjHandleToFd(a) },
    { valid: () => ({ handle: 2, flags: 3, point: 1n }), call: (f, a) => f.syncobjHandleToFd(a) },
  ],
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: [
    { valid: (w) => ({ fd: w.aSyncobjFd }), call: (f, a) => f.syncobjFdToHandle(a) },
    { valid: (w) => ({ fd: w.syncFile, handle: 2, flags: 3, point: 4n }), call: (f, a) => f.syncobjFdToHandle(a) },
  ],
  DRM_IOCTL_SYNCOBJ_WAIT: [{ valid: () => ({ handles: [1, 2], flags: 1, timeoutNsec: 0n }), call: (f, a) => f.syncobjWait(a) }],
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT: [{ valid: () => ({ handles: [1, 2], points: [0n, 1n], flags: 1, timeoutNsec: 0n }), call: (f, a) => f.syncobjTimelineWait(a) }],
  DRM_IOCTL_SYNCOBJ_RESET: [{ valid: () => ({ handles: [1, 2] }), call: (f, a) => f.syncobjReset(a) }],
  DRM_IOCTL_SYNCOBJ_SIGNAL: [{ valid: () => ({ handles: [1, 2] }), call: (f, a) => f.syncobjSignal(a) }],
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: [{ valid: () => ({ handles: [2], points: [9n] }), call: (f, a) => f.syncobjTimelineSignal(a) }],
  DRM_IOCTL_SYNCOBJ_QUERY: [{ valid: () => ({ handles: [1, 2], flags: 1 }), call: (f, a) => f.syncobjQuery(a) }],
  DRM_IOCTL_SYNCOBJ_TRANSFER: [{ valid: () => ({ srcHandle: 2, srcPoint: 1n, dstHandle: 1 }), call: (f, a) => f.syncobjTransfer(a) }],
};

async function errnoOf(p: Promise<unknown>): Promise<ErrnoName | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isDepError(e)) return e.code;
    throw e;
  }
}

/** A handle `b` has and `a` does not, in `table`. */
function foreignHandle(table: string): number | null {
  if (table === 'gem' || table === 'syncobj' || table === 'vm') return 3;
  return null;
}

describe('every core ioctl rejects bad arguments without changing state', () => {
  for (const name of Object.keys(CASES) as IoctlName[]) {
    const schema = DRM_CORE_IOCTLS[name] as unknown as IoctlSchema<Fields>;
    CASES[name].forEach((c, variant) => {
      it(`${name}${CASES[name].length > 1 ? ` (#${variant + 1})` : ''}`, async () => {
        const w = await world();
        const { rt, dev, a } = w;
        await rt.run(async () => {
          const valid = c.valid(w);
          const mutations = schema.mutations(valid);
          expect(mutations.length).toBeGreaterThan(2);
          let tried = 0;
          for (const m of mutations) {
            const variants: Array<{ args: unknown; why: string }> = [{ args: m.args, why: m.why }];
            if (m.table !== undefined) {
              const h = foreignHandle(m.table);
              if (h !== null) {
                const arr = (m.args as Record<string, unknown>)[m.field];
                const args = { ...(m.args as object), [m.field]: Array.isArray(arr) ? [h, ...arr.slice(1)] : h };
                variants.push({ args, why: `another file's ${m.table} handle` });
              }
            }
            for (const v of variants) {
              const expected = m.table !== undefined ? schema.missingErrno(m.field, schema.validate(v.args)) : schema.expectedError(v.args);
              if (expected === null && m.table !== undefined) continue; // these arguments make the ioctl ignore the handle
              expect(expected, `${m.field}: ${v.why} must be an error`).not.toBeNull();
              const before = dev.snapshot();
              const got = await errnoOf(c.call(a, v.args as never));
              expect(got, `${m.field}: ${v.why}`).toBe(expected);
              expect(dev.snapshot(), `${m.field}: ${v.why} changed state`).toEqual(before);
              tried++;
            }
          }
          expect(tried).toBeGreaterThanOrEqual(mutations.length - 2);
          // and the valid arguments work
          expect(await errnoOf(c.call(a, valid as never)), 'the valid call').toBe('ok');
        });
      });
    });
  }

  it('every core ioctl has a case here', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(DRM_CORE_IOCTLS).sort());
  });
});
