// Group "dma-fence": the hand-written fence without a clock (the "no clock" reference point).
import { minimalFenceCase } from '../lib/fence-cases.js';

export default minimalFenceCase({ name: 'hand-written (no clock)', group: 'dma-fence' });
