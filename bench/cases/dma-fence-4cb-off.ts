// Group "dma-fence-4cb": @dep/dma-fence with four callbacks, checks off.
import { dmaFenceCase } from '../lib/fence-cases.js';

export default dmaFenceCase({ name: 'dma-fence (off)', group: 'dma-fence-4cb', checks: 'off', callbacks: 4 });
