// Group "resv-iter-64", the baseline: an indexed scan of 64 fences (see dma-resv-lib/shared.ts).
import { iterBaseline } from './dma-resv-lib/shared.js';

export default iterBaseline(64);
