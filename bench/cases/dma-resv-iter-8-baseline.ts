// Group "resv-iter-8", the baseline: an indexed scan of 8 fences (see dma-resv-lib/shared.ts).
import { iterBaseline } from './dma-resv-lib/shared.js';

export default iterBaseline(8);
