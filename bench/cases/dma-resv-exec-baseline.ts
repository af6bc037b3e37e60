// Group "drm-exec-8", the baseline: 4 tasks each taking 8 kernel Mutexes in one global
// order, yielding, releasing (see dma-resv-lib/shared.ts).
import { execBaseline } from './dma-resv-lib/shared.js';

export default execBaseline();
