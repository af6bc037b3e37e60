// Group "resv-add-8": reserveFences(8) + 8 × DmaResv.addFence, checks off (see dma-resv-lib/shared.ts).
import { addResv } from './dma-resv-lib/shared.js';

export default addResv(8);
