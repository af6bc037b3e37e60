/**
 * No lockdep report: no lock-order inversion, no reclaim-unsafe allocation, no
 * fence-signalling-path violation. Scenarios that exist to show one (the kernel scenario's
 * AB-BA order) say so in `demonstrates`.
 */
import { few } from './trace-view.js';
import type { Invariant } from './types.js';

export const noLockdep: Invariant = {
  name: 'no-lockdep',
  description: 'no lockdep report',
  check({ result }) {
    const splats = result.reports.filter((r) => r.kind === 'lockdep');
    return splats.length === 0 ? [] : [`${splats.length} lockdep report(s): ${few(splats.map((r) => r.message), 2)}`];
  },
};
