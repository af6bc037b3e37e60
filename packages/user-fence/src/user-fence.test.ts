// dma-fence → memory (rfc-designs C.1, C.4): the write happens on signal (or at once),
// allocation is split from attach, a plain store can move the value backwards, 'max' cannot.
import { DepError, IosysMap, MemoryTraceSink, Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps } from '@dep/dma-fence';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserFence } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'ring' };

function setup(checks: 'strict' | 'off' = 'strict'): { rt: Runtime; map: IosysMap; fence: (s?: bigint) => DmaFence } {
  const rt = new Runtime({ checks });
  const ctx = contextAlloc(1, rt);
  let n = 1n;
  return { rt, map: new IosysMap(new ArrayBuffer(64)), fence: (s) => new DmaFence(ops, ctx, s ?? n++, { runtime: rt }) };
}

function expectDepError(fn: () => unknown, code: string, text?: RegExp): DepError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DepError);
  expect((err as DepError).code).toBe(code);
  if (text !== undefined) expect((err as DepError).message).toMatch(text);
  return err as DepError;
}

describe('UserFence: write on signal', () => {
  it('writes the 64-bit value at the offset when the fence signals, not before', () => {
    const { rt, map, fence } = setup();
    const f = fence();
    const uf = UserFence.alloc(rt);
    expect(uf.state).toBe('allocated');
    uf.attach(f, map, 0x1_0000_0002n, { offset: 16 });
    expect(uf.state).toBe('attached');
    expect(map.rd(16, 'u64')).toBe(0n);
    f.signal();
    expect(map.rd(16, 'u64')).toBe(0x1_0000_0002n);
    expect(map.rd(8, 'u64')).toBe(0n);
    expect(map.rd(24, 'u64')).toBe(0n);
    expect(uf.state).toBe('written');
  });

  it('an already signalled fence: the write happens in attach, synchronously', () => {
    const { rt, map, fence } = setup();
    const f = fence();
    f.signal();
    UserFence.alloc(rt).attach(f, map, 7n);
    expect(map.rd(0, 'u64')).toBe(7n);
  });

  it('the fence error is lost: only the number is written', () => {
    const { rt, map, fence } = setup();
    const f = fence();
    UserFence.alloc(rt).attach(f, map, 9n, { offset: 8 });
    f.setError(-5);
    f.signal();
    expect(f.getStatus()).toBe(-5);
    expect(map.rd(8, 'u64')).toBe(9n);
  });

  it('writes through a sub-view at its offset, and into I/O memory', () => {
    const { rt, fence } = setup();
    const buf = new ArrayBuffer(64);
    const bar = new IosysMap(buf, { isIomem: true }).sub(32, 16);
    const f = fence();
    UserFence.alloc(rt).attach(f, bar, 0xffff_ffff_ffff_ffffn, { offset: 8 });
    f.signal();
    expect(new IosysMap(buf).rd(40, 'u64')).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('emits user_fence:write when tracing', () => {
    const { rt, map, fence } = setup();
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const f = fence();
    UserFence.alloc(rt).attach(f, map, 3n);
    f.signal();
    const ev = sink.records.find((r) => r.name === 'user_fence:write');
    expect(ev?.args).toEqual({ value: 3n, mode: 'store', skipped: false });
  });
});

describe('UserFence: store vs monotonic max (rfc-designs C.4)', () => {
  it('store: two user fences on one location signalled out of order move the value backwards', () => {
    const { rt, map, fence } = setup();
    const late = fence();
    const early = fence();
    UserFence.alloc(rt).attach(late, map, 5n);
    UserFence.alloc(rt).attach(early, map, 3n);
    late.signal();
    expect(map.rd(0, 'u64')).toBe(5n);
    early.signal();
    expect(map.rd(0, 'u64')).toBe(3n); // backwards: a waiter for point 5 sees it undone
  });

  it('max: the same out-of-order signals leave the later point in place', () => {
    const { rt, map, fence } = setup();
    const late = fence();
    const early = fence();
    const a = UserFence.alloc(rt);
    const b = UserFence.alloc(rt);
    a.attach(late, map, 5n, { mode: 'max' });
    b.attach(early, map, 3n, { mode: 'max' });
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    late.signal();
    early.signal();
    expect(map.rd(0, 'u64')).toBe(5n);
    expect(sink.records.filter((r) => r.name === 'user_fence:write').map((r) => r.args)).toEqual([
      { value: 5n, mode: 'max', skipped: false },
      { value: 3n, mode: 'max', skipped: true },
    ]);
  });

  it('property: after any signal order, max leaves the largest value, store the last one signalled', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 1, maxLength: 12 }), fc.infiniteStream(fc.nat()), (values, picks) => {
        const { rt, map, fence } = setup('off');
        const fences = values.map((v) => {
          const f = fence();
          UserFence.alloc(rt).attach(f, map, v, { offset: 0, mode: 'store' });
          const g = fence();
          UserFence.alloc(rt).attach(g, map, v, { offset: 8, mode: 'max' });
          return { f, g, v };
        });
        const order = [...fences];
        const it = picks[Symbol.iterator]();
        let last = 0n;
        let max = 0n;
        while (order.length > 0) {
          const { f, g, v } = order.splice(it.next().value % order.length, 1)[0]!;
          f.signal();
          g.signal();
          last = v;
          if (v > max) max = v;
        }
        expect(map.rd(0, 'u64')).toBe(last);
        expect(map.rd(8, 'u64')).toBe(max);
      }),
    );
  });
});

describe('UserFence: allocation split from attach', () => {
  it('alloc fails with ENOMEM under fault injection; nothing was attached', () => {
    const { rt } = setup();
    rt.faults.failAlloc({ site: 'dma_fence_user_fence_alloc' });
    expectDepError(() => UserFence.alloc(rt), 'ENOMEM');
  });

  it('attach allocates nothing: it succeeds while every allocation fails', () => {
    const { rt, map, fence } = setup();
    const uf = UserFence.alloc(rt);
    const f = fence();
    rt.faults.failAlloc();
    uf.attach(f, map, 1n);
    f.signal();
    expect(map.rd(0, 'u64')).toBe(1n);
    expect(rt.faults.injected).toHaveLength(0);
  });

  it('free: only a never-attached one; freed twice is EINVAL; attached is EBUSY', () => {
    const { rt, map, fence } = setup();
    const a = UserFence.alloc(rt);
    a.free();
    expect(a.state).toBe('freed');
    expectDepError(() => a.free(), 'EINVAL', /already freed/);
    expectDepError(() => a.attach(fence(), map, 1n), 'EINVAL', /freed/);
    const b = UserFence.alloc(rt);
    b.attach(fence(), map, 1n);
    expectDepError(() => b.free(), 'EBUSY');
  });

  it('new UserFence() is refused: allocate through UserFence.alloc', () => {
    expectDepError(() => new UserFence(new Runtime()), 'EINVAL', /UserFence\.alloc/);
  });
});

describe('UserFence: bad input is a DepError and changes nothing', () => {
  const cases: Array<[string, (t: ReturnType<typeof setup>, uf: UserFence, f: DmaFence) => void, string]> = [
    ['a read-only map', (t, uf, f) => uf.attach(f, t.map.sub(0, 64, { readonly: true }), 1n), 'EACCES'],
    ['a misaligned offset', (t, uf, f) => uf.attach(f, t.map, 1n, { offset: 4 }), 'EINVAL'],
    ['a misaligned sub-view', (t, uf, f) => uf.attach(f, t.map.sub(4, 16), 1n), 'EINVAL'],
    ['an offset past the end', (t, uf, f) => uf.attach(f, t.map, 1n, { offset: 64 }), 'EFAULT'],
    ['a negative offset', (t, uf, f) => uf.attach(f, t.map, 1n, { offset: -8 }), 'EFAULT'],
    ['a fractional offset', (t, uf, f) => uf.attach(f, t.map, 1n, { offset: 0.5 }), 'EINVAL'],
    ['a negative seqno', (t, uf, f) => uf.attach(f, t.map, -1n), 'EINVAL'],
    ['a seqno above u64', (t, uf, f) => uf.attach(f, t.map, 1n << 64n), 'EINVAL'],
    ['a number seqno', (t, uf, f) => uf.attach(f, t.map, 1 as unknown as bigint), 'EINVAL'],
    ['a bad mode', (t, uf, f) => uf.attach(f, t.map, 1n, { mode: 'min' as 'max' }), 'EINVAL'],
    ['not a fence', (t, uf) => uf.attach({} as DmaFence, t.map, 1n), 'EINVAL'],
    ['not a map', (_t, uf, f) => uf.attach(f, new ArrayBuffer(8) as unknown as IosysMap, 1n), 'EINVAL'],
  ];
  for (const [what, call, code] of cases) {
    it(`${what}: ${code}`, () => {
      const t = setup();
      const uf = UserFence.alloc(t.rt);
      const f = t.fence();
      const err = expectDepError(() => call(t, uf, f), code);
      expect(err.message.length).toBeGreaterThan(30);
      expect(uf.state).toBe('allocated');
      f.signal();
      expect(new Uint8Array(t.map.buffer).every((b) => b === 0)).toBe(true);
      // still usable afterwards
      const g = t.fence();
      uf.attach(g, t.map, 2n);
      g.signal();
      expect(t.map.rd(0, 'u64')).toBe(2n);
    });
  }

  it('an INACTIVE fence: EINVAL, nothing attached', () => {
    const t = setup();
    const f = new DmaFence(ops, contextAlloc(1, t.rt), 1n, { runtime: t.rt, inactive: true });
    const uf = UserFence.alloc(t.rt);
    expectDepError(() => uf.attach(f, t.map, 1n), 'EINVAL', /INACTIVE/);
    f.setActive();
    f.signal();
    expect(t.map.rd(0, 'u64')).toBe(0n);
    expect(uf.state).toBe('allocated');
  });

  it('attaching the same user fence twice: EINVAL (one write per user fence)', () => {
    const t = setup();
    const uf = UserFence.alloc(t.rt);
    uf.attach(t.fence(), t.map, 1n);
    expectDepError(() => uf.attach(t.fence(), t.map, 2n), 'EINVAL', /attached/);
  });
});
