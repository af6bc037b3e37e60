// Group "queue-1q" (one queue, independent jobs): a minimal hand-written queue, every job through its worker event.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, worker';
const GROUP = 'queue-1q';
export default minimalQueueCase({ name: NAME, group: GROUP }, false);
