// Group "dma-fence-4cb", baseline: the hand-written fence with four callbacks per fence.
import { clockFenceCase } from '../lib/fence-cases.js';

export default clockFenceCase({ name: 'hand-written+clock', group: 'dma-fence-4cb', baseline: true, callbacks: 4 });
