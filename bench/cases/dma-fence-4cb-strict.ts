// Group "dma-fence-4cb": @dep/dma-fence with four callbacks, checks strict.
import { dmaFenceCase } from '../lib/fence-cases.js';

export default dmaFenceCase({ name: 'dma-fence (strict)', group: 'dma-fence-4cb', checks: 'strict', callbacks: 4 });
