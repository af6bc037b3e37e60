/**
 * How a fuzz command talks to the world and how its outcome is judged: {@link call} runs a
 * valid call (one `rt.run`, so the runtime is idle again afterwards), {@link expectErrno}
 * runs an invalid one and demands the kernel's errno and every device's snapshot unchanged,
 * {@link checkModel} compares everything a client can observe with the model.
 */
import type { DrmDevice, DrmDeviceSnapshot } from '@dep/drm';
import { isDepError, type ErrnoName } from '@dep/kernel';
import { expect } from 'vitest';
import { errnoLog } from './coverage.js';
import { expectedAlive, slotVa, type Model, type SyncState } from './model.js';
import { snapshotAll, type World } from './world.js';

/** The model and the world, as fast-check's model run hands them to a command. */
export type Cmd = import('fast-check').AsyncCommand<Model, World>;

/** Key of object `id` of device `d`. */
export function objKey(d: number, id: number): string {
  return `${d}:${id}`;
}

/**
 * Thrown by {@link call} when the allocation failure armed by `FailAlloc` made the call
 * fail (with ENOMEM, every device unchanged, as checked): the command stops there, its
 * model left as the call found it.
 */
export class InjectedFailure extends Error {
  constructor(what: string) {
    super(`${what}: ENOMEM injected; nothing changed`);
    this.name = 'InjectedFailure';
  }
}

/** Options of {@link call}. */
export interface CallOptions {
  /**
   * May an armed allocation failure hit this call? Default true. False for calls of
   * several ioctls whose later ones may not fail without undoing the earlier ones (submit
   * then destroy, close), and for the documented partial ones (SYNCOBJ_SIGNAL).
   */
  readonly faults?: boolean;
}

/**
 * Run `fn` as a task and drive the runtime until idle; resolves with its result. With an
 * allocation failure armed (`w.failNthAlloc`), the `nth` allocation made while `fn` runs
 * fails: if `fn` then fails with ENOMEM, every device's snapshot must be as before and
 * {@link InjectedFailure} is thrown; any other error, or a success, goes on as usual.
 */
export async function call<T>(w: World, fn: () => Promise<T>, options: CallOptions = {}): Promise<T> {
  const nth = w.failNthAlloc;
  if (nth === null || options.faults === false) return w.rt.run(fn);
  w.failNthAlloc = null;
  const before = snapshotAll(w);
  let fired = false;
  try {
    return await w.rt.run(async () => {
      const rule = w.rt.faults.failAlloc({ nth });
      try {
        return await fn();
      } finally {
        fired = rule.injected > 0;
        rule.remove();
      }
    });
  } catch (e) {
    if (!fired || !isDepError(e) || e.code !== 'ENOMEM') throw e;
    expect(snapshotAll(w), `allocation ${nth} failed (ENOMEM): every device unchanged`).toEqual(before);
    errnoLog.push('ENOMEM (injected)');
    throw new InjectedFailure(`allocation ${nth}`);
  }
}

/** The errno `fn` failed with (a DepError's code), or null if it succeeded. Other errors propagate. */
export async function errnoOf(w: World, fn: () => Promise<unknown>): Promise<ErrnoName | null> {
  try {
    await call(w, fn, { faults: false });
    return null;
  } catch (e) {
    if (!isDepError(e)) throw e;
    return e.code;
  }
}

/**
 * An invalid call: it must fail with `errno` and leave `dev.snapshot()` of every device as
 * it was (handles, names, refcounts, syncobj fences, resv fences, mappings, driver tables).
 */
export async function expectErrno(w: World, errno: ErrnoName, what: string, fn: () => Promise<unknown>): Promise<void> {
  const before = snapshotAll(w);
  const got = await errnoOf(w, fn);
  expect(got, `${what}: errno`).toBe(errno);
  errnoLog.push(errno);
  expect(snapshotAll(w), `${what}: every device unchanged`).toEqual(before);
}

function fileSnapshot(s: DrmDeviceSnapshot, id: number): DrmDeviceSnapshot['files'][number] {
  const f = s.files.find((x) => x.id === id);
  expect(f, `file ${id} in the snapshot`).toBeDefined();
  return f!;
}

/** The driver's table of contexts in a file snapshot, by device. */
const CTX_TABLE = ['exec_queue', 'group', 'hwctx'] as const;

/**
 * Everything observable agrees with the model: per file its GEM, syncobj, VM and context
 * handles, its PRIME cache, each syncobj's state, each VM's mappings; per device the flink
 * names and the handle count of every object a handle names.
 */
export function checkModel(m: Model, w: World): void {
  for (let d = 0; d < 3; d++) {
    const dm = m.devs[d as 0 | 1 | 2];
    const dev = w.devices[d] as DrmDevice;
    const snap = dev.snapshot();
    const objById = new Map(snap.objects.map((o) => [o.id, o]));
    for (let i = 0; i < dm.files.length; i++) {
      const fm = dm.files[i]!;
      const f = w.files[d]![i]!;
      const fs = fileSnapshot(snap, f.id);
      const where = `${dev.name} file ${i}`;
      expect(new Map(fs.gem.map(([h, o]) => [h, objKey(d, o)])), `${where} GEM handles`).toEqual(fm.gem);
      expect(new Map(f.syncobjs.entries().map(([h, s]) => [h, w.syncobjId(s)])), `${where} syncobj handles`).toEqual(fm.sync);
      for (const [h, sid] of fm.sync) {
        const fence = f.syncobjs.lookup(h)!.fenceGet();
        const state: SyncState = fence === null ? 'empty' : 'signaled';
        const signaled = fence?.isSignaled() ?? true;
        fence?.put();
        expect(state, `${where} syncobj ${h} (#${sid}) state`).toBe(m.syncobjs.get(sid));
        expect(signaled, `${where} syncobj ${h}: its fence signalled (the runtime is idle)`).toBe(true);
        const point = m.points.get(sid);
        if (point !== null && point !== undefined) expect(f.syncobjs.lookup(h)!.query(0), `${where} syncobj ${h} (#${sid}): SYNCOBJ_QUERY point`).toBe(point);
      }
      expect(
        new Map(fs.prime.map(([h, buf]) => [h, buf])),
        `${where} PRIME cache (handle → dma-buf)`,
      ).toEqual(new Map([...fm.prime].map(([h, origin]) => [h, m.dmaBufs.get(origin)])));
      const vms = new Map(fs.vms.map(([h, maps]) => [h, [...maps].sort()]));
      const want = new Map(
        [...fm.vms].map(([h, key]) => {
          const vm = dm.vms.get(key)!;
          const maps = [...vm.slots].map(([slot, obj]) => `${slotVa(slot).toString(16)}+1000→${obj.split(':')[1]}@0`);
          return [h, maps.sort()] as const;
        }),
      );
      expect(vms, `${where} VMs and their mappings`).toEqual(want);
      const table = fs.tables[CTX_TABLE[d]!] ?? [];
      expect(table.map(([h]) => h).sort((a, b) => a - b), `${where} ${CTX_TABLE[d]} handles`).toEqual([...fm.ctxs.keys()].sort((a, b) => a - b));
    }
    expect(new Map(snap.names.map(([n, o]) => [n, objKey(d, o)])), `${dev.name} flink names`).toEqual(dm.names);
    // Objects a client made (drivers' internal ones, like a VM's root page table, are the end-of-run check's).
    const live = new Set(snap.objects.map((o) => objKey(d, o.id)).filter((k) => dm.objects.has(k)));
    expect(live, `${dev.name} live GEM objects (no leak, no early free)`).toEqual(expectedAlive(m, d));
    const counts = new Map<string, number>();
    for (const fm of dm.files) for (const o of fm.gem.values()) counts.set(o, (counts.get(o) ?? 0) + 1);
    for (const [key, n] of counts) {
      const o = objById.get(Number(key.split(':')[1]));
      expect(o?.handleCount, `${dev.name} object ${key}: handle count`).toBe(n);
    }
  }
}
