// Group "resv-add-64": reserveFences(64) + 64 × DmaResv.addFence, checks off (see dma-resv-lib/shared.ts).
import { addResv } from './dma-resv-lib/shared.js';

export default addResv(64);
