/**
 * ioctl-mutations: every ioctl of the adapter, against every single-fault mutation its
 * schema generates from valid arguments (unknown flag bits, non-zero padding, values out
 * of range or misaligned, wrong types, arrays shorter than their count, unknown fields, a
 * bad user pointer, handles naming nothing, broken cross-field rules): the errno the
 * schema declares (or the handle field's `missing` errno), and the device snapshot
 * unchanged.
 */
import type { ErrnoName } from '@dep/kernel';
import { isDepError } from '@dep/kernel';
import { CheckFailure, expectThat, type ConformanceCheck } from '../check.js';
import { sameSnapshot } from '../snapshot.js';
import { expectNoReports, runSession } from '../session.js';
import type { IoctlCase } from '../adapter.js';
import type { ArgsMutation } from '@dep/drm';

/** The errno a mutation must fail with, or null when the schema does not say (skipped). */
export function expectedErrno(c: IoctlCase, m: ArgsMutation): ErrnoName | null {
  const byValidator = c.schema.expectedError(m.args);
  if (byValidator !== null) return byValidator;
  if (m.table === undefined) return null;
  return c.schema.missingErrno(m.field, c.schema.validate(m.args));
}

/** Call `c` with `args`; the errno, or null when it succeeded. Other exceptions are a failure. */
export async function callErrno(c: IoctlCase, args: unknown, what: string): Promise<{ errno: ErrnoName | null; message: string }> {
  try {
    await c.call(args);
    return { errno: null, message: '' };
  } catch (e) {
    if (isDepError(e)) return { errno: e.code, message: e.message };
    throw new CheckFailure(`${c.schema.name} with ${what}: threw ${String(e)}, not a DepError (bad input must be rejected with the kernel's errno)`);
  }
}

export const ioctlMutations: ConformanceCheck = {
  name: 'ioctl-mutations',
  title: 'every single-fault mutation of every ioctl fails with the declared errno and changes nothing',
  kernel: 'drm_ioctl argument checks: -EINVAL for unknown flags/pad/ranges, -EFAULT for bad user pointers, -ENOENT/-EINVAL for handles naming nothing — before any state changes',
  async run(ctx) {
    let tried = 0;
    const { reports } = await runSession(ctx, { salt: 9 }, async (s) => {
      const client = await s.open();
      const cases = await client.ioctls();
      expectThat(cases.length > 0, 'the adapter lists no ioctl (ConformanceClient.ioctls)');
      for (const c of cases) {
        expectThat(c.schema.expectedError(c.valid) === null, () => `${c.schema.name}: the adapter's valid arguments are invalid (${c.schema.expectedError(c.valid)})`);
        for (const m of c.schema.mutations(c.valid)) {
          const expected = expectedErrno(c, m);
          if (expected === null) continue;
          const before = s.dev.drm.snapshot();
          const got = await callErrno(c, m.args, m.why);
          expectThat(got.errno === expected, `${c.schema.name} with ${m.why}: ${got.errno === null ? 'succeeded' : `failed with ${got.errno} (${got.message})`}, expected ${expected}`);
          const diff = sameSnapshot(before, s.dev.drm.snapshot());
          expectThat(diff === null, `${c.schema.name} with ${m.why}: failed with ${expected} but changed the device: ${diff}`);
          tried++;
        }
      }
      expectThat(tried > 0, 'no mutation of any ioctl had a declared errno');
    });
    expectNoReports(reports, 'ioctl-mutations');
  },
};
