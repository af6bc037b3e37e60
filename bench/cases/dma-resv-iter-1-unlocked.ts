// Group "resv-iter-1": an unlocked DmaResvIter walk over 1 fences (a reference and an
// is-signalled test per fence), checks off (see dma-resv-lib/shared.ts).
import { iterUnlocked } from './dma-resv-lib/shared.js';

export default iterUnlocked(1);
