// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): baseline: p-queue 9, concurrency 1 per queue.
import { pQueueCase } from './queue-lib/cases.js';

const NAME = 'p-queue (concurrency 1)';
const GROUP = 'queue-4q-steady';
export default pQueueCase({ name: NAME, group: GROUP, baseline: true });
