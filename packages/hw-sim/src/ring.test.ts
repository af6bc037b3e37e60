import { isDepError } from '@dep/kernel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandDwords, createCommandRing, type Command } from './commands.js';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('refuses sizes that are not powers of two', () => {
    for (const size of [0, 1, 3, 12, 1.5, -4]) {
      expect(() => new Ring(size)).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    }
  });

  it('accounts space with free-running pointers and wraps offsets (split items straddle the end)', () => {
    const ring = new Ring<{ n: number; tag: string }>(8, { sizeOf: (x) => x.n });
    ring.write([{ n: 3, tag: 'a' }, { n: 3, tag: 'b' }]);
    expect(ring.space()).toBe(2);
    expect(ring.pop()?.tag).toBe('a');
    expect(ring.space()).toBe(5);
    // c starts at offset 6 and wraps to 0: split mode does not pad.
    ring.write({ n: 4, tag: 'c' });
    expect(ring.wptr).toBe(10);
    expect(ring.tail).toBe(2);
    expect(ring.wraps).toBe(1);
    expect(ring.space()).toBe(1);
    expect(ring.pending().map((x) => x.tag)).toEqual(['b', 'c']);
    expect(ring.pop()?.tag).toBe('b');
    expect(ring.pop()?.tag).toBe('c');
    expect(ring.empty).toBe(true);
    expect(ring.head).toBe(2);
    expect(ring.rptr).toBe(10);
  });

  it('pads with a tombstone when an item does not fit before the end (tombstone mode)', () => {
    const ring = new Ring<{ n: number; tag: string }>(8, { wrap: 'tombstone', sizeOf: (x) => x.n });
    ring.write({ n: 6, tag: 'a' });
    ring.pop();
    // 2 slots left before the end: a 3-slot item skips them.
    expect(ring.slotsFor([{ n: 3, tag: 'b' }])).toBe(5);
    ring.write({ n: 3, tag: 'b' });
    expect(ring.wptr).toBe(11);
    expect(ring.tail).toBe(3);
    expect(ring.used).toBe(5);
    expect(ring.peek()?.tag).toBe('b');
    expect(ring.pop()?.tag).toBe('b');
    expect(ring.rptr).toBe(11);
    expect(ring.empty).toBe(true);
  });

  it('is all-or-nothing: ENOSPC leaves the ring unchanged', () => {
    const ring = createCommandRing(16);
    ring.write([{ op: 'batch', units: 1 }, { op: 'batch', units: 1 }, { op: 'batch', units: 1 }]);
    const before = { wptr: ring.wptr, rptr: ring.rptr, pending: ring.pending().length };
    let err: unknown;
    try {
      ring.write([{ op: 'interrupt' }, { op: 'batch', units: 1 }]);
    } catch (e) {
      err = e;
    }
    expect(isDepError(err, 'ENOSPC')).toBe(true);
    expect({ wptr: ring.wptr, rptr: ring.rptr, pending: ring.pending().length }).toEqual(before);
    // A single 1-dword command still fits exactly.
    ring.write({ op: 'interrupt' });
    expect(ring.space()).toBe(3);
  });

  it('validates every command before writing any (EINVAL, nothing written)', () => {
    const ring = createCommandRing(64);
    const bad = [
      { op: 'batch', units: -1 },
      { op: 'seqnoWrite', addr: 12, value: 1n },
      { op: 'seqnoWrite', addr: 16, value: 1 },
      { op: 'userFenceWrite', addr: 16, value: -1n },
      { op: 'semaphoreWait', addr: 8, value: 1n, compare: 'lt' },
      { op: 'interrupt', data: 2 ** 32 },
      { op: 'warp' },
    ] as unknown as Command[];
    for (const cmd of bad) {
      expect(() => ring.write([{ op: 'noop' }, cmd])).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
      expect(ring.wptr).toBe(0);
    }
  });

  it('refuses an item larger than the ring', () => {
    const ring = new Ring<number>(4, { sizeOf: (n) => n });
    expect(() => ring.write(5)).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
  });

  it('behaves like a FIFO with exact space accounting (property, both wrap modes)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'split' | 'tombstone'>('split', 'tombstone'),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 7 }).map((n) => ({ w: n })), fc.constant({ r: true as const })), { maxLength: 200 }),
        (wrap, ops) => {
          const size = 16;
          const ring = new Ring<{ n: number; i: number }>(size, { wrap, sizeOf: (x) => x.n });
          const model: Array<{ n: number; i: number; at: number }> = [];
          let wptr = 0;
          let consumed = 0; // end of the last item popped: the ring's rptr (padding counts as used)
          let i = 0;
          for (const op of ops) {
            if ('w' in op) {
              const n = op.w;
              const off = wptr % size;
              const start = wrap === 'tombstone' && off + n > size ? wptr + (size - off) : wptr;
              const fits = start + n - consumed <= size;
              if (fits) {
                ring.write({ n, i });
                model.push({ n, i, at: start });
                wptr = start + n;
              } else {
                expect(() => ring.write({ n, i })).toThrow();
              }
              i++;
            } else {
              const got = ring.pop();
              const want = model.shift();
              expect(got?.i).toBe(want?.i);
              if (want !== undefined) consumed = want.at + want.n;
            }
            expect(ring.wptr).toBe(wptr);
            expect(ring.used).toBe(wptr - consumed);
            expect(ring.space()).toBe(size - ring.used);
          }
        },
      ),
    );
  });

  it('sizes commands in dwords', () => {
    expect(commandDwords({ op: 'batch', units: 1 })).toBe(4);
    expect(commandDwords({ op: 'seqnoWrite', addr: 0, value: 0n })).toBe(6);
    expect(commandDwords({ op: 'interrupt' })).toBe(1);
  });
});
