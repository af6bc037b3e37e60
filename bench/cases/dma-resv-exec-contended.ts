// Group "drm-exec-8": 4 tasks each locking the same 8 resvs with a DrmExec, in rotated
// orders (so wait-die backs off and retries), yielding, fini (see dma-resv-lib/shared.ts).
import { execResv } from './dma-resv-lib/shared.js';

export default execResv(4);
