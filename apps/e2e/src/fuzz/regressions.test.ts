// Shrunk counterexamples of the uAPI fuzzer, replayed as fixed command lists (no
// randomness): each names what it caught and whose bug it was.
import { describe, it } from 'vitest';
import { PtGroupCreate } from './commands-panthor.js';
import { runSequence } from './run.js';

describe('uAPI fuzz regressions', () => {
  // Model bug (first run of the fuzzer): panthor's device grants CAP_SYS_NICE unless told
  // otherwise, so HIGH priority was accepted and the VM lookup failed (EINVAL). The world
  // now makes an unprivileged panthor device, and the permission check comes before the
  // VM lookup, as in panthor_group_create().
  it('panthor GROUP_CREATE at HIGH priority without CAP_SYS_NICE is EACCES, even naming no VM', async () => {
    await runSequence([new PtGroupCreate(0, 0, 'priority')], { bootstrap: false });
  });
});
