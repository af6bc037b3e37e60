import { describe, expect, it } from 'vitest';
import { DepError, ERRNO, errnoName, errnoOf, isDepError, isErrorValue, MAX_ERRNO } from './index.js';

describe('errno table', () => {
  it('has Linux names and numbers', () => {
    expect(ERRNO.EINVAL).toBe(22);
    expect(ERRNO.ENOMEM).toBe(12);
    expect(ERRNO.EDEADLK).toBe(35);
    expect(ERRNO.ETIME).toBe(62);
    expect(ERRNO.ETIMEDOUT).toBe(110);
    expect(ERRNO.EALREADY).toBe(114);
    expect(ERRNO.ECANCELED).toBe(125);
    expect(ERRNO.ERESTARTSYS).toBe(512);
  });

  it('maps numbers back to names, either sign', () => {
    expect(errnoName(-22)).toBe('EINVAL');
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(41)).toBeUndefined();
    expect(errnoName(-99999)).toBeUndefined();
  });

  it('recognises the error range -MAX_ERRNO…-1 (IS_ERR_VALUE)', () => {
    expect(MAX_ERRNO).toBe(4095);
    expect(isErrorValue(-1)).toBe(true);
    expect(isErrorValue(-4095)).toBe(true);
    expect(isErrorValue(-4096)).toBe(false);
    expect(isErrorValue(0)).toBe(false);
    expect(isErrorValue(-1.5)).toBe(false);
  });
});

describe('DepError', () => {
  it('carries the errno name and the negative value', () => {
    const e = new DepError('EINVAL', 'credits must be > 0');
    expect(e.code).toBe('EINVAL');
    expect(e.errno).toBe(-22);
    expect(e.message).toBe('EINVAL: credits must be > 0');
    expect(e).toBeInstanceOf(Error);
  });

  it('keeps its cause', () => {
    const cause = new Error('inner');
    expect(new DepError('EIO', 'outer', { cause }).cause).toBe(cause);
  });

  it('is recognised across duplicate copies through the Symbol.for brand', () => {
    const foreign = Object.assign(new Error('x'), { code: 'ENOENT' });
    Object.defineProperty(foreign, Symbol.for('@dep/error'), { value: true });
    expect(isDepError(foreign)).toBe(true);
    expect(isDepError(foreign, 'ENOENT')).toBe(true);
    expect(isDepError(foreign, 'EINVAL')).toBe(false);
    expect(isDepError(new Error('plain'))).toBe(false);
    expect(isDepError(null)).toBe(false);
  });

  it('builds from an errno value and refuses values Linux does not define', () => {
    expect(DepError.fromErrno(-62, 'late').code).toBe('ETIME');
    expect(() => DepError.fromErrno(-41, 'x')).toThrow(/not a Linux errno/);
  });
});

describe('errnoOf', () => {
  it('null when the call fulfilled, the DepError code when it rejected with one; other rejections propagate', async () => {
    expect(await errnoOf(Promise.resolve(3))).toBeNull();
    expect(await errnoOf(Promise.reject(new DepError('ENOENT', 'no such handle')))).toBe('ENOENT');
    const bug = new TypeError('not an errno');
    await expect(errnoOf(Promise.reject(bug))).rejects.toBe(bug);
  });
});
