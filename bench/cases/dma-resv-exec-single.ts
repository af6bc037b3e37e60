// Group "drm-exec-8": one task locking 8 resvs with a DrmExec, no contention (see
// dma-resv-lib/shared.ts).
import { execResv } from './dma-resv-lib/shared.js';

export default execResv(1);
