// Group "dma-fence": @dep/dma-fence create + one callback + signal, checks off.
import { dmaFenceCase } from '../lib/fence-cases.js';

export default dmaFenceCase({ name: 'dma-fence (off)', group: 'dma-fence', checks: 'off' });
