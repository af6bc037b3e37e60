// The declarative ioctl validator: each field kind's checks and errnos, rules, defaults,
// unknown fields, and the single-fault mutations a conformance kit feeds to ioctls.
import { DepError, type ErrnoName } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  U32_MAX,
  U64_MAX,
  array,
  bool,
  countOf,
  defineIoctl,
  fd,
  flags,
  handle,
  noOverflow,
  oneOf,
  pad,
  pad64,
  rule,
  s32,
  s64,
  string,
  struct,
  u16,
  u32,
  u64,
  u8,
} from './validate.js';

function errnoOf(fn: () => unknown): ErrnoName | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof DepError) return e.code;
    throw e;
  }
}

class Token {
  closed = false;
}
const isToken = (v: unknown): v is Token => v instanceof Token && !v.closed;

const BIND = defineIoctl(
  'DRM_IOCTL_TEST_BIND',
  {
    vmId: handle('vm'),
    flags: flags(0b0111, { exclusive: [0b0110] }),
    addr: u64({ align: 4096n }),
    range: u64({ min: 1n, align: 4096n }),
    objOffset: u64({ align: 4096n }),
    pad: pad(),
    reserved: pad64(),
  },
  { rules: [noOverflow('addr', 'range'), noOverflow('objOffset', 'range', { errno: 'EOVERFLOW' })] },
);

describe('validate: integer fields', () => {
  const S = defineIoctl('T', { a: u8(), b: u16(), c: u32({ min: 2, max: 100, align: 2 }), d: s32(), e: u64({ max: 10n }), f: s64() });

  it('accepts in-range values and zero-fills absent fields', () => {
    expect(S.validate({ c: 4 })).toEqual({ a: 0, b: 0, c: 4, d: 0, e: 0n, f: 0n });
    expect(S.validate({ a: 255, b: 65535, c: 100, d: -5, e: 10n, f: -(2n ** 63n) })).toMatchObject({ a: 255, d: -5, f: -(2n ** 63n) });
  });

  it('rejects wrong types, out-of-range, misaligned values with EINVAL', () => {
    expect(errnoOf(() => S.validate({ c: 4, a: 256 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, a: -1 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, b: 1.5 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 3 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 102 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, e: 11n }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, e: 5 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, f: 2n ** 63n }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate({ c: 4, d: 2 ** 31 }))).toBe('EINVAL');
  });

  it('a min above zero makes the absent (zero) value an error', () => {
    expect(errnoOf(() => S.validate({}))).toBe('EINVAL');
  });

  it('custom errno on range violations', () => {
    const T = defineIoctl('T2', { size: u64({ max: 100n, errno: 'E2BIG' }) });
    expect(errnoOf(() => T.validate({ size: 101n }))).toBe('E2BIG');
    expect(errnoOf(() => T.validate({ size: U64_MAX + 1n }))).toBe('EINVAL');
  });
});

describe('validate: flags, pad, handles', () => {
  it('unknown flag bits and exclusive bits are EINVAL', () => {
    expect(BIND.validate({ range: 4096n, flags: 0b0011 }).flags).toBe(3);
    expect(errnoOf(() => BIND.validate({ range: 4096n, flags: 0b1000 }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ range: 4096n, flags: 0x8000_0000 }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ range: 4096n, flags: 0b0110 }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ range: 4096n, flags: -1 }))).toBe('EINVAL');
  });

  it('non-zero pad / reserved is EINVAL', () => {
    expect(errnoOf(() => BIND.validate({ range: 4096n, pad: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ range: 4096n, reserved: 1n }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ range: 4096n, reserved: 0 }))).toBe('EINVAL');
  });

  it('handles are u32s; the table and missing errno are declared for the body', () => {
    expect(errnoOf(() => BIND.validate({ range: 4096n, vmId: U32_MAX + 1 }))).toBe('EINVAL');
    expect(BIND.validate({ range: 4096n, vmId: 7 }).vmId).toBe(7);
    const f = BIND.fields.find((x) => x.name === 'vmId')!;
    expect(f).toMatchObject({ kind: 'handle', info: { table: 'vm', missing: 'ENOENT', optional: false } });
    const D = defineIoctl('T3', { handle: handle('syncobj', { missing: (a) => ((a.flags as number) === 1 ? 'ENOENT' : 'EINVAL') }), flags: u32() });
    expect(D.missingErrno('handle', D.validate({ flags: 1 }))).toBe('ENOENT');
    expect(D.missingErrno('handle', D.validate({ flags: 0 }))).toBe('EINVAL');
  });
});

describe('validate: rules', () => {
  it('noOverflow: a + b beyond u64 is the rule errno', () => {
    expect(errnoOf(() => BIND.validate({ addr: U64_MAX - 4095n, range: 8192n }))).toBe('EINVAL');
    // misaligned first: field checks run before rules
    expect(errnoOf(() => BIND.validate({ addr: U64_MAX, range: 8192n }))).toBe('EINVAL');
    expect(errnoOf(() => BIND.validate({ objOffset: U64_MAX - 4095n, range: 8192n }))).toBe('EOVERFLOW');
    expect(BIND.validate({ addr: U64_MAX - 12287n, range: 8192n }).addr).toBe(U64_MAX - 12287n);
  });

  it('rule(): a custom cross-field check', () => {
    const T = defineIoctl('T4', { a: u32(), b: u32() }, { rules: [rule('a ≤ b', 'ERANGE', (x) => (x.a > x.b ? 'a > b' : null))] });
    expect(errnoOf(() => T.validate({ a: 2, b: 1 }))).toBe('ERANGE');
    expect(T.validate({ a: 1, b: 2 })).toEqual({ a: 1, b: 2 });
  });
});

describe('validate: arrays, counts, structs, tokens', () => {
  const W = defineIoctl('T5', {
    count: countOf('items', { min: 1 }),
    items: array(struct({ handle: handle('syncobj'), flags: flags(1), point: u64() }), { count: 'count' }),
    tok: fd('token', isToken, { errno: (v) => (v instanceof Token ? 'EBADF' : 'EINVAL') }),
    name: string(8),
    on: bool(),
    kind: oneOf([1, 2, 4]),
  });
  const tok = new Token();

  it('the count defaults to the array length; a prefix is used when smaller', () => {
    const a = W.validate({ items: [{ handle: 1 }, { handle: 2, point: 5n }], tok, kind: 1 });
    expect(a.count).toBe(2);
    expect(a.items).toEqual([
      { handle: 1, flags: 0, point: 0n },
      { handle: 2, flags: 0, point: 5n },
    ]);
    expect(W.validate({ count: 1, items: [{ handle: 1 }, { handle: 2 }], tok, kind: 2 }).items).toHaveLength(1);
  });

  it('a count beyond the array or a missing array is EFAULT; not an array is EFAULT', () => {
    expect(errnoOf(() => W.validate({ count: 3, items: [{ handle: 1 }], tok, kind: 1 }))).toBe('EFAULT');
    expect(errnoOf(() => W.validate({ count: 1, tok, kind: 1 }))).toBe('EFAULT');
    expect(errnoOf(() => W.validate({ items: 5, count: 1, tok, kind: 1 }))).toBe('EFAULT');
  });

  it('a count below its minimum is EINVAL; element errors carry the element errno', () => {
    expect(errnoOf(() => W.validate({ items: [], tok, kind: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1, flags: 2 }], tok, kind: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1, bogus: 1 }], tok, kind: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [7], tok, kind: 1 }))).toBe('EFAULT');
  });

  it('tokens: the errno function tells a closed token from a wrong value; absent is an error', () => {
    const closed = new Token();
    closed.closed = true;
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok: closed, kind: 1 }))).toBe('EBADF');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok: 3, kind: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], kind: 1 }))).toBe('EINVAL');
  });

  it('strings, booleans, enums', () => {
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok, kind: 1, name: 'x'.repeat(9) }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok, kind: 1, on: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok, kind: 3 }))).toBe('EINVAL');
    expect(W.validate({ items: [{ handle: 1 }], tok, kind: 4, on: true, name: 'abc' })).toMatchObject({ kind: 4, on: true, name: 'abc' });
    expect(errnoOf(() => W.validate({ items: [{ handle: 1 }], tok })), 'an absent enum is 0, not one of the values').toBe('EINVAL');
  });

  it('a count field must precede its array', () => {
    expect(() => defineIoctl('BAD', { items: array(u32(), { count: 'n' }), n: countOf('items') })).toThrow(/countOf\(\) field declared before/);
  });
});

describe('validate: the argument object', () => {
  it('unknown fields are EINVAL, a non-object is EFAULT, undefined is all zeros', () => {
    const S = defineIoctl('T6', { flags: flags(1) });
    expect(errnoOf(() => S.validate({ flags: 0, extra: 1 }))).toBe('EINVAL');
    expect(errnoOf(() => S.validate(null))).toBe('EFAULT');
    expect(errnoOf(() => S.validate(42))).toBe('EFAULT');
    expect(errnoOf(() => S.validate([]))).toBe('EFAULT');
    expect(S.validate(undefined)).toEqual({ flags: 0 });
  });

  it('messages name the ioctl and the field', () => {
    expect(() => BIND.validate({ range: 4096n, pad: 3 })).toThrow(/^EINVAL: DRM_IOCTL_TEST_BIND: pad must be 0/);
  });
});

describe('validate: mutations', () => {
  it('every mutation of valid arguments is rejected by validation or names a table to miss in', () => {
    const valid = { vmId: 1, flags: 1, addr: 4096n, range: 8192n, objOffset: 0n };
    const muts = BIND.mutations(valid);
    expect(muts.length).toBeGreaterThan(20);
    for (const m of muts) {
      const errno = BIND.expectedError(m.args);
      if (m.table !== undefined) {
        expect(errno, m.why).toBeNull();
        expect(m.table).toBe('vm');
      } else {
        expect(errno, `${m.field}: ${m.why}`).not.toBeNull();
      }
    }
    const whys = muts.map((m) => `${m.field}: ${m.why}`);
    expect(whys).toContain('flags: unknown bit 0x8');
    expect(whys).toContain('flags: two exclusive bits of 0x6');
    expect(whys).toContain('pad: non-zero padding');
    expect(whys).toContain('range: below the minimum 1');
    expect(whys).toContain('addr: not a multiple of 4096');
    expect(whys.some((w) => w.includes('overflows'))).toBe(true);
  });

  it('the overflow mutation hits the rule errno', () => {
    const muts = BIND.mutations({ vmId: 1, addr: 4096n, range: 8192n, objOffset: 4096n });
    const over = muts.filter((m) => m.why.includes('overflows'));
    expect(over.map((m) => BIND.expectedError(m.args)).sort()).toEqual(['EINVAL', 'EOVERFLOW']);
  });

  it('mutations of invalid arguments are refused (they must start from valid ones)', () => {
    expect(() => BIND.mutations({ range: 0n })).toThrow(DepError);
  });
});
