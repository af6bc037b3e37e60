// Group "resv-add-64", the baseline: a JS array, each add scanning for a same-context or
// signalled entry, then pushing (see dma-resv-lib/shared.ts).
import { addBaseline } from './dma-resv-lib/shared.js';

export default addBaseline(64);
