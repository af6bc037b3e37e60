// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): the minimal queue running a ready job inline from push.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, inline';
const GROUP = 'queue-4q-steady';
export default minimalQueueCase({ name: NAME, group: GROUP }, true);
