// Group "resv-add-1": reserveFences(1) + 1 × DmaResv.addFence, checks off (see dma-resv-lib/shared.ts).
import { addResv } from './dma-resv-lib/shared.js';

export default addResv(1);
