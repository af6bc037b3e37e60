// Per-file handle tables: idr semantics (lowest free id ≥ 1), lookups, fault injection.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { HandleTable } from './handle-table.js';

describe('HandleTable', () => {
  it('hands out the lowest free id ≥ 1, as idr_alloc(…, 1, 0, …) does', () => {
    const rt = new Runtime();
    const t = new HandleTable<string>(rt, 'test');
    expect([t.alloc('a'), t.alloc('b'), t.alloc('c'), t.alloc('d')]).toEqual([1, 2, 3, 4]);
    expect(t.remove(3)).toBe('c');
    expect(t.remove(1)).toBe('a');
    expect(t.alloc('e'), 'the lowest freed id first').toBe(1);
    expect(t.alloc('f')).toBe(3);
    expect(t.alloc('g')).toBe(5);
    expect(t.entries()).toEqual([
      [1, 'e'],
      [2, 'b'],
      [3, 'f'],
      [4, 'd'],
      [5, 'g'],
    ]);
  });

  it('lookup / has / remove of unknown handles return undefined and change nothing', () => {
    const rt = new Runtime();
    const t = new HandleTable<object>(rt, 'test');
    const o = {};
    const h = t.alloc(o);
    expect(t.lookup(0)).toBeUndefined();
    expect(t.lookup(h + 1)).toBeUndefined();
    expect(t.lookup(-1)).toBeUndefined();
    expect(t.remove(99)).toBeUndefined();
    expect(t.replace(99, {})).toBeUndefined();
    expect(t.size).toBe(1);
    expect(t.lookup(h)).toBe(o);
    expect(t.handleOf(o)).toBe(h);
    const o2 = {};
    expect(t.replace(h, o2)).toBe(o);
    expect(t.lookup(h)).toBe(o2);
  });

  it('alloc goes through the allocation hook: ENOMEM under fault injection, nothing allocated', () => {
    const rt = new Runtime();
    const t = new HandleTable<string>(rt, 'test', { site: 'my_idr' });
    t.alloc('a');
    rt.faults.failAlloc({ site: 'my_idr', times: 1 });
    expect(() => t.alloc('b')).toThrow(/ENOMEM/);
    expect(t.size).toBe(1);
    expect(t.alloc('c'), 'the id was not consumed').toBe(2);
  });

  it('drain empties the table and restarts ids at 1', () => {
    const rt = new Runtime();
    const t = new HandleTable<string>(rt, 'test');
    t.alloc('a');
    t.alloc('b');
    t.remove(1);
    expect(t._drain()).toEqual([[2, 'b']]);
    expect(t.size).toBe(0);
    expect(t.alloc('c')).toBe(1);
  });
});
