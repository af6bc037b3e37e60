// Group "dma-fence": @dep/dma-fence create + one callback + signal, checks strict.
import { dmaFenceCase } from '../lib/fence-cases.js';

export default dmaFenceCase({ name: 'dma-fence (strict)', group: 'dma-fence', checks: 'strict' });
