// Group "queue-1q" (one queue, independent jobs): baseline: p-queue 9, concurrency 1 per queue.
import { pQueueCase } from './queue-lib/cases.js';

const NAME = 'p-queue (concurrency 1)';
const GROUP = 'queue-1q';
export default pQueueCase({ name: NAME, group: GROUP, baseline: true });
