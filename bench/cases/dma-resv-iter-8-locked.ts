// Group "resv-iter-8": a locked DmaResvIter walk over 8 fences, checks off (see dma-resv-lib/shared.ts).
import { iterLocked } from './dma-resv-lib/shared.js';

export default iterLocked(8);
