// Group "dma-fence", baseline: the hand-written fence with the same inputs and clock.
import { clockFenceCase } from '../lib/fence-cases.js';

export default clockFenceCase({ name: 'hand-written+clock', group: 'dma-fence', baseline: true });
