/**
 * Comparing device snapshots (`DrmDevice.snapshot()`): what a failed ioctl must leave
 * exactly as it was.
 */

function walk(a: unknown, b: unknown, path: string): string | null {
  if (Object.is(a, b)) return null;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return `${path}: ${show(a)} → ${show(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: ${show(a)} → ${show(b)}`;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return `${path}: ${a.length} entries → ${bb.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = walk(a[i], bb[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) {
    const d = walk(ao[k], bo[k], path === '' ? k : `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/** Null when the two snapshots are equal; otherwise the first difference, as `path: before → after`. */
export function sameSnapshot(before: unknown, after: unknown): string | null {
  return walk(before, after, '');
}
