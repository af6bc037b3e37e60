/**
 * No refcount leak and no use-after-free: the runtime's lifetime tracker (`rt.lifetimes`,
 * behind every Kref) reports an object still referenced at shutdown as a `leak` and a get
 * or put after the last put as a `use-after-free`. Either report breaks the invariant.
 */
import { few } from './trace-view.js';
import type { Invariant } from './types.js';

export const noLeak: Invariant = {
  name: 'no-leak',
  description: 'no object alive at shutdown (refcount leak) and no use-after-free',
  check({ result }) {
    const out: string[] = [];
    const leaks = result.reports.filter((r) => r.kind === 'leak');
    const uaf = result.reports.filter((r) => r.kind === 'use-after-free');
    if (leaks.length > 0) out.push(`${leaks.length} object(s) alive at shutdown: ${few(leaks.map((r) => r.message), 2)}`);
    if (uaf.length > 0) out.push(`${uaf.length} use-after-free: ${few(uaf.map((r) => r.message), 2)}`);
    return out;
  },
};
