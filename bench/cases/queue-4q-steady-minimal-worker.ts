// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): a minimal hand-written queue, every job through its worker event.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, worker';
const GROUP = 'queue-4q-steady';
export default minimalQueueCase({ name: NAME, group: GROUP }, false);
