// Group "resv-iter-1": a locked DmaResvIter walk over 1 fences, checks off (see dma-resv-lib/shared.ts).
import { iterLocked } from './dma-resv-lib/shared.js';

export default iterLocked(1);
