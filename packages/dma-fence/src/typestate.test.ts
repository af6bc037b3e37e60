// Typestate: the issuer's DmaFence can signal; the published Fence view cannot (the
// Stanner DriverFence / Fence split, rfc-designs E.2). Publishing is zero-cost: the same
// object, a narrower type. The @ts-expect-error lines are checked by `npm run typecheck`.
import { Runtime } from '@dep/kernel';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { DmaFence, type DmaFenceOps, type Fence } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };

describe('typestate', () => {
  it('the published view has no signal, setError, setActive or …Locked signal', () => {
    expectTypeOf<Fence>().not.toHaveProperty('signal');
    expectTypeOf<Fence>().not.toHaveProperty('signalTimestamp');
    expectTypeOf<Fence>().not.toHaveProperty('checkAndSignal');
    expectTypeOf<Fence>().not.toHaveProperty('signalLocked');
    expectTypeOf<Fence>().not.toHaveProperty('setError');
    expectTypeOf<Fence>().not.toHaveProperty('setActive');
    expectTypeOf<Fence>().not.toHaveProperty('init');
    expectTypeOf<DmaFence>().toHaveProperty('signal');
    expectTypeOf<DmaFence>().toHaveProperty('setError');
    expectTypeOf<DmaFence>().toExtend<Fence>();
  });

  it('publish() hands out the same object as a Fence', () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    const view = f.publish();
    expectTypeOf(view).toEqualTypeOf<Fence>();
    expect(view).toBe(f);
    expect(f.published).toBe(true);
    const misuse = (): void => {
      // @ts-expect-error the view cannot be signalled
      view.signal(); // eslint-disable-line @typescript-eslint/no-unsafe-call
      // @ts-expect-error the view cannot be given an error
      view.setError(-5); // eslint-disable-line @typescript-eslint/no-unsafe-call
      // @ts-expect-error a view is not the issuer's handle
      const back: DmaFence = view;
      void back;
    };
    void misuse;
    expect(view.isSignaled()).toBe(false);
  });

  it('a structural look-alike is not a Fence (the view is branded)', () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    // Every string-keyed member of a fence, without the brand.
    type Lookalike = { [K in keyof Fence as K extends symbol ? never : K]: Fence[K] };
    const look = { context: 1n, seqno: 1n } as unknown as Lookalike;
    // @ts-expect-error a plain object with the same members is no fence
    const fake: Fence = look;
    void fake;
    expect(() => f.isLater(look as unknown as Fence)).toThrow(/expected a fence/);
  });

  it('get() keeps the type it is called on', () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    expectTypeOf(f.get()).toEqualTypeOf<DmaFence>();
    expectTypeOf(f.publish().get()).toEqualTypeOf<Fence>();
    expect(f.refcount).toBe(3); // init's reference and the two get()s above
  });
});
