// Group "resv-iter-64": a locked DmaResvIter walk over 64 fences, checks off (see dma-resv-lib/shared.ts).
import { iterLocked } from './dma-resv-lib/shared.js';

export default iterLocked(64);
