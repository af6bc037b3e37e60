/**
 * cross-client: a handle is meaningless to another file. Every handle field of every
 * ioctl of client A, given a handle that exists only in client B's table of that kind,
 * fails with the field's `missing` errno (ENOENT for a lookup; what the kernel returns
 * where it says otherwise) and changes nothing on the device — A cannot reach B's objects.
 */
import type { DrmFile } from '@dep/drm';
import { expectThat, type ConformanceCheck } from '../check.js';
import { sameSnapshot } from '../snapshot.js';
import { expectNoReports, runSession } from '../session.js';
import { callErrno } from './ioctl-mutations.js';

function handlesOf(file: DrmFile, table: string): Set<number> {
  const t = table === 'gem' ? file.gem : table === 'syncobj' ? file.syncobjs : table === 'vm' ? file.vms : file.tableNames.includes(table) ? file.table(table) : null;
  return new Set(t === null ? [] : t.entries().map(([h]) => h));
}

export const crossClient: ConformanceCheck = {
  name: 'cross-client',
  title: "another file's handle is a handle naming nothing: the declared errno, nothing changed",
  kernel: 'per-file handle tables (idr in drm_file: object_idr, syncobj_idr, driver xarrays): lookups are per file',
  async run(ctx) {
    let tried = 0;
    const tables = new Set<string>();
    const { reports } = await runSession(ctx, { salt: 10 }, async (s) => {
      const a = await s.open();
      const cases = await a.ioctls();
      // B gets more of everything than A, so it holds handles A does not.
      const b = await s.open();
      await b.ioctls();
      for (let i = 0; i < 3; i++) {
        const q = await b.createQueue();
        await s.submit(q, { units: 1 });
        await b.file.syncobjCreate();
      }
      await b.ioctls();
      for (const c of cases) {
        const valid = c.schema.validate(c.valid) as Record<string, unknown>;
        for (const field of c.schema.fields) {
          const isArray = field.kind === 'array' && (field.info.of as { kind?: string } | undefined)?.kind === 'handle';
          if (field.kind !== 'handle' && !isArray) continue;
          const table = (isArray ? (field.info.of as { info: Record<string, unknown> }).info.table : field.info.table) as string;
          const mine = handlesOf(a.file, table);
          const foreign = [...handlesOf(b.file, table)].find((h) => !mine.has(h));
          if (foreign === undefined) continue;
          const current = valid[field.name];
          if (isArray && (current as unknown[]).length === 0) continue;
          const args = { ...valid, [field.name]: isArray ? [foreign, ...(current as unknown[]).slice(1)] : foreign };
          if (c.schema.expectedError(args) !== null) continue;
          const expected = c.schema.missingErrno(field.name, c.schema.validate(args));
          if (expected === null) continue;
          const before = s.dev.drm.snapshot();
          const why = `${field.name} = ${foreign} (a ${table} handle of ${b.file.toString()})`;
          const got = await callErrno(c, args, why);
          expectThat(got.errno === expected, `${c.schema.name} with ${why}: ${got.errno === null ? 'succeeded — reached another client\'s object' : `failed with ${got.errno} (${got.message})`}, expected ${expected}`);
          const diff = sameSnapshot(before, s.dev.drm.snapshot());
          expectThat(diff === null, `${c.schema.name} with ${why}: changed the device: ${diff}`);
          tried++;
          tables.add(table);
        }
      }
      expectThat(tried > 0, "no ioctl had a handle field that another client's handle could be aimed at");
    });
    expectNoReports(reports, 'cross-client');
  },
};
