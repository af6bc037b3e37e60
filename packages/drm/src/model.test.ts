// Model-based test (fast-check `fc.commands`): random sequences of GEM and syncobj ioctls on
// two files, valid ones and ones with bad handles, checked against a simple model of what
// each file's handles name, flink names, and each syncobj's state. Bad calls must fail with
// the kernel's errno and leave the whole device as it was. At the end every file closes and
// the runtime must report no leak.
import { isDepError, type ErrnoName, type Runtime } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setup } from './__fixtures__/setup.js';
import type { DrmDevice } from './device.js';
import type { DrmFile } from './file.js';

type SyncState = 'empty' | 'signaled';

interface FileModel {
  /** handle → object id. */
  readonly gem: Map<number, number>;
  /** handle → syncobj id. */
  readonly sync: Map<number, number>;
}

interface Model {
  files: [FileModel, FileModel];
  /** flink name → object id. */
  readonly names: Map<number, number>;
  /** syncobj id → state. */
  readonly syncobjs: Map<number, SyncState>;
}

interface Real {
  readonly rt: Runtime;
  readonly dev: DrmDevice;
  files: [DrmFile, DrmFile];
}

type Cmd = fc.AsyncCommand<Model, Real>;

function emptyFile(): FileModel {
  return { gem: new Map(), sync: new Map() };
}

function lowestFree(map: ReadonlyMap<number, unknown>): number {
  let h = 1;
  while (map.has(h)) h++;
  return h;
}

function pick<T>(keys: readonly T[], i: number): T | undefined {
  return keys.length === 0 ? undefined : keys[i % keys.length];
}

/** A handle this file does not have: the other file's if it has one we lack, else a big one. */
function bogus(mine: ReadonlyMap<number, unknown>, other: ReadonlyMap<number, unknown>): number {
  for (const h of other.keys()) if (!mine.has(h)) return h;
  return 1000 + mine.size;
}

function handleCount(m: Model, obj: number): number {
  let n = 0;
  for (const f of m.files) for (const o of f.gem.values()) if (o === obj) n++;
  return n;
}

/** An object without handles dies (fds are always closed right away here): so does its name. */
function dropNames(m: Model): void {
  for (const [name, obj] of [...m.names]) if (handleCount(m, obj) === 0) m.names.delete(name);
}

async function call<T>(r: Real, fn: () => Promise<T>): Promise<T> {
  return r.rt.run(fn);
}

async function expectError(r: Real, errno: ErrnoName, fn: () => Promise<unknown>): Promise<void> {
  const before = r.dev.snapshot();
  let got: string = 'ok';
  try {
    await call(r, fn);
  } catch (e) {
    if (!isDepError(e)) throw e;
    got = e.code;
  }
  expect(got).toBe(errno);
  expect(r.dev.snapshot()).toEqual(before);
}

function check(m: Model, r: Real): void {
  for (let i = 0; i < 2; i++) {
    const fm = m.files[i]!;
    const f = r.files[i]!;
    expect(new Map(f.gem.entries().map(([h, o]) => [h, o.id])), `file ${i} GEM handles`).toEqual(fm.gem);
    expect(new Map(f.syncobjs.entries().map(([h, s]) => [h, r.dev.idOf(s)])), `file ${i} syncobj handles`).toEqual(fm.sync);
    for (const [h, sid] of fm.sync) {
      const fence = f.syncobjs.lookup(h)!.fenceGet();
      const state: SyncState = fence === null ? 'empty' : 'signaled';
      fence?.put();
      expect(state, `syncobj ${sid}`).toBe(m.syncobjs.get(sid));
      if (fence !== null) expect(fence.isSignaled()).toBe(true);
    }
  }
  expect(new Map(r.dev._names().map(([n, o]) => [n, o.id])), 'flink names').toEqual(m.names);
  const live = new Set<number>();
  for (const f of m.files) for (const o of f.gem.values()) live.add(o);
  expect(new Set(r.dev.objects.map((o) => o.id)), 'live objects').toEqual(live);
}

const file = fc.constantFrom(0, 1);

class GemCreate implements Cmd {
  constructor(readonly f: number, readonly pages: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const { handle } = await call(r, () => r.files[this.f]!.gemCreate({ size: BigInt(this.pages) * 4096n }));
    expect(handle).toBe(lowestFree(m.files[this.f]!.gem));
    m.files[this.f]!.gem.set(handle, r.files[this.f]!.gem.lookup(handle)!.id);
    check(m, r);
  }
  toString = (): string => `GemCreate(${this.f}, ${this.pages})`;
}

class GemClose implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.f]!;
    const h = this.bad ? bogus(fm.gem, m.files[1 - this.f]!.gem) : pick([...fm.gem.keys()], this.i);
    if (h === undefined || !fm.gem.has(h)) {
      await expectError(r, 'EINVAL', () => r.files[this.f]!.gemClose({ handle: h ?? 1 }));
    } else {
      await call(r, () => r.files[this.f]!.gemClose({ handle: h }));
      fm.gem.delete(h);
      dropNames(m);
    }
    check(m, r);
  }
  toString = (): string => `GemClose(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

class GemFlinkOpen implements Cmd {
  constructor(readonly from: number, readonly to: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.from]!;
    const h = this.bad ? bogus(fm.gem, m.files[1 - this.from]!.gem) : pick([...fm.gem.keys()], this.i);
    if (h === undefined || !fm.gem.has(h)) {
      await expectError(r, 'ENOENT', () => r.files[this.from]!.gemFlink({ handle: h ?? 1 }));
      await expectError(r, 'ENOENT', () => r.files[this.to]!.gemOpen({ name: lowestFree(m.names) }));
    } else {
      const obj = fm.gem.get(h)!;
      const existing = [...m.names].find(([, o]) => o === obj)?.[0];
      const { name } = await call(r, () => r.files[this.from]!.gemFlink({ handle: h }));
      expect(name).toBe(existing ?? lowestFree(m.names));
      m.names.set(name, obj);
      const { handle } = await call(r, () => r.files[this.to]!.gemOpen({ name }));
      expect(handle).toBe(lowestFree(m.files[this.to]!.gem));
      m.files[this.to]!.gem.set(handle, obj);
    }
    check(m, r);
  }
  toString = (): string => `GemFlinkOpen(${this.from}→${this.to}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

class PrimeShare implements Cmd {
  constructor(readonly from: number, readonly to: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.from]!;
    const h = this.bad ? bogus(fm.gem, m.files[1 - this.from]!.gem) : pick([...fm.gem.keys()], this.i);
    if (h === undefined || !fm.gem.has(h)) {
      await expectError(r, 'ENOENT', () => r.files[this.from]!.primeHandleToFd({ handle: h ?? 1 }));
    } else {
      const obj = fm.gem.get(h)!;
      const tm = m.files[this.to]!;
      const free = lowestFree(tm.gem);
      const handle = await call(r, async () => {
        const { fd } = await r.files[this.from]!.primeHandleToFd({ handle: h });
        try {
          return (await r.files[this.to]!.primeFdToHandle({ fd })).handle;
        } finally {
          fd.close();
        }
      });
      // the prime cache may hand back a handle the file already has for this object;
      // otherwise it is a new one, the lowest free
      if (tm.gem.get(handle) !== obj) {
        expect(handle).toBe(free);
        tm.gem.set(handle, obj);
      }
    }
    check(m, r);
  }
  toString = (): string => `PrimeShare(${this.from}→${this.to}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

class SyncCreate implements Cmd {
  constructor(readonly f: number, readonly signaled: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const f = r.files[this.f]!;
    const { handle } = await call(r, () => f.syncobjCreate({ flags: this.signaled ? 1 : 0 }));
    expect(handle).toBe(lowestFree(m.files[this.f]!.sync));
    const sid = r.dev.idOf(f.syncobjs.lookup(handle)!);
    m.files[this.f]!.sync.set(handle, sid);
    m.syncobjs.set(sid, this.signaled ? 'signaled' : 'empty');
    check(m, r);
  }
  toString = (): string => `SyncCreate(${this.f}, ${this.signaled})`;
}

class SyncDestroy implements Cmd {
  constructor(readonly f: number, readonly i: number, readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.f]!;
    const h = this.bad ? bogus(fm.sync, m.files[1 - this.f]!.sync) : pick([...fm.sync.keys()], this.i);
    if (h === undefined || !fm.sync.has(h)) {
      await expectError(r, 'EINVAL', () => r.files[this.f]!.syncobjDestroy({ handle: h ?? 1 }));
    } else {
      await call(r, () => r.files[this.f]!.syncobjDestroy({ handle: h }));
      fm.sync.delete(h);
    }
    check(m, r);
  }
  toString = (): string => `SyncDestroy(${this.f}, #${this.i}${this.bad ? ', bogus' : ''})`;
}

/** SIGNAL, RESET or a polling WAIT over some handles. */
class SyncArray implements Cmd {
  constructor(readonly op: 'signal' | 'reset' | 'wait' | 'waitAll', readonly f: number, readonly picks: readonly number[], readonly bad: boolean) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.f]!;
    const keys = [...fm.sync.keys()];
    if (keys.length === 0 && !this.bad) return;
    const handles = this.picks.map((i) => pick(keys, i) ?? 1);
    if (this.bad) handles.push(bogus(fm.sync, m.files[1 - this.f]!.sync));
    const f = r.files[this.f]!;
    const run = (): Promise<unknown> => {
      switch (this.op) {
        case 'signal':
          return f.syncobjSignal({ handles });
        case 'reset':
          return f.syncobjReset({ handles });
        case 'wait':
          return f.syncobjWait({ handles, timeoutNsec: 0n });
        case 'waitAll':
          return f.syncobjWait({ handles, timeoutNsec: 0n, flags: 1 });
      }
    };
    if (handles.some((h) => !fm.sync.has(h))) {
      await expectError(r, 'ENOENT', run);
    } else {
      const states = handles.map((h) => m.syncobjs.get(fm.sync.get(h)!)!);
      if ((this.op === 'wait' || this.op === 'waitAll') && states.includes('empty')) {
        await expectError(r, 'EINVAL', run);
      } else {
        const res = await call(r, run);
        if (this.op === 'wait' || this.op === 'waitAll') expect(res).toEqual({ firstSignaled: 0 });
        for (const h of handles) m.syncobjs.set(fm.sync.get(h)!, this.op === 'signal' ? 'signaled' : this.op === 'reset' ? 'empty' : m.syncobjs.get(fm.sync.get(h)!)!);
      }
    }
    check(m, r);
  }
  toString = (): string => `Sync${this.op}(${this.f}, [${this.picks.join(',')}]${this.bad ? ', bogus' : ''})`;
}

class SyncShare implements Cmd {
  constructor(readonly from: number, readonly to: number, readonly i: number) {}
  check = (m: Model): boolean => m.files[this.from]!.sync.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const fm = m.files[this.from]!;
    const h = pick([...fm.sync.keys()], this.i)!;
    const handle = await call(r, async () => {
      const { fd } = await r.files[this.from]!.syncobjHandleToFd({ handle: h });
      try {
        return (await r.files[this.to]!.syncobjFdToHandle({ fd })).handle;
      } finally {
        fd.close();
      }
    });
    expect(handle).toBe(lowestFree(m.files[this.to]!.sync));
    m.files[this.to]!.sync.set(handle, fm.sync.get(h)!);
    check(m, r);
  }
  toString = (): string => `SyncShare(${this.from}→${this.to}, #${this.i})`;
}

class Reopen implements Cmd {
  constructor(readonly f: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    await call(r, () => r.files[this.f]!.close());
    r.files[this.f] = r.dev.open();
    m.files[this.f] = emptyFile();
    dropNames(m);
    check(m, r);
  }
  toString = (): string => `Reopen(${this.f})`;
}

const picks = fc.array(fc.nat(7), { minLength: 1, maxLength: 3 });
const commands = [
  fc.tuple(file, fc.integer({ min: 1, max: 4 })).map(([f, p]) => new GemCreate(f, p)),
  fc.tuple(file, fc.nat(7), fc.boolean()).map(([f, i, b]) => new GemClose(f, i, b)),
  fc.tuple(file, fc.nat(7), fc.boolean()).map(([f, i, b]) => new GemFlinkOpen(f, 1 - f, i, b)),
  fc.tuple(file, file, fc.nat(7), fc.boolean()).map(([f, t, i, b]) => new PrimeShare(f, t, i, b)),
  fc.tuple(file, fc.boolean()).map(([f, s]) => new SyncCreate(f, s)),
  fc.tuple(file, fc.nat(7), fc.boolean()).map(([f, i, b]) => new SyncDestroy(f, i, b)),
  fc.tuple(fc.constantFrom<'signal' | 'reset' | 'wait' | 'waitAll'>('signal', 'reset', 'wait', 'waitAll'), file, picks, fc.boolean()).map(([op, f, p, b]) => new SyncArray(op, f, p, b)),
  fc.tuple(file, fc.nat(7)).map(([f, i]) => new SyncShare(f, 1 - f, i)),
  file.map((f) => new Reopen(f)),
];

describe('model-based: GEM and syncobj ioctls on two files', () => {
  it('agree with the model, reject bad handles without changes, and leak nothing', async () => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: 'large' }), async (cmds) => {
        const { rt, dev } = setup({ checks: 'warn' });
        const real: Real = { rt, dev, files: [dev.open(), dev.open()] };
        const model: Model = { files: [emptyFile(), emptyFile()], names: new Map(), syncobjs: new Map() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        ran += [...cmds].length;
        await rt.run(async () => {
          for (const f of real.files) await f.close();
        });
        expect(dev.objects).toEqual([]);
        expect(rt.shutdown()).toEqual([]);
      }),
      { numRuns: 60 },
    );
    expect(ran, 'sequences long enough to matter (size "large")').toBeGreaterThan(600);
  });
});
