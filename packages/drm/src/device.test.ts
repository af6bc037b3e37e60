// Default device names: one minor counter per prefix per runtime (a runtime is one machine),
// so a program's device names do not depend on what else the process ran before.
import { DepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { setup } from './__fixtures__/setup.js';
import { DrmDevice } from './device.js';

describe('default device names', () => {
  it('count per runtime and per prefix (card<N>, accel<N>); an explicit name takes no number', () => {
    const a = setup();
    const b = setup();
    const names = (s: ReturnType<typeof setup>, prefix?: 'card' | 'accel', name?: string): string =>
      new DrmDevice({ runtime: s.rt, memory: s.dev.memory, ...(prefix === undefined ? {} : { minorPrefix: prefix }), ...(name === undefined ? {} : { name }) }).name;
    // setup()'s device is named explicitly ('card0'): it took no number
    expect(names(a)).toBe('card0');
    expect(names(a)).toBe('card1');
    expect(names(a, 'accel')).toBe('accel0');
    expect(names(a, undefined, 'renderD128')).toBe('renderD128');
    expect(names(a)).toBe('card2');
    expect(names(b, 'accel')).toBe('accel0');
    expect(names(b)).toBe('card0');
  });

  it('rejects an unknown minor prefix with EINVAL', () => {
    const { rt, dev } = setup();
    const bad = (): DrmDevice => new DrmDevice({ runtime: rt, memory: dev.memory, minorPrefix: 'render' as 'card' });
    expect(bad).toThrow(DepError);
    expect(bad).toThrow(/minorPrefix/);
  });
});
