import { describe, expect, it } from 'vitest';
import { setup } from './__fixtures__/setup.js';

describe('smoke', () => {
  it('gem create / close / syncobj create', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle, size } = await f.gemCreate({ size: 8192n });
      expect(handle).toBe(1);
      expect(size).toBe(8192n);
      const s = await f.syncobjCreate({ flags: 1 });
      expect(s.handle).toBe(1);
      await f.close();
    });
    expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
  });
});
