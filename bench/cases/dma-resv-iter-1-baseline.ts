// Group "resv-iter-1", the baseline: an indexed scan of 1 fences (see dma-resv-lib/shared.ts).
import { iterBaseline } from './dma-resv-lib/shared.js';

export default iterBaseline(1);
