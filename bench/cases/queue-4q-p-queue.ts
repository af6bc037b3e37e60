// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): baseline: p-queue 9, concurrency 1 per queue.
import { pQueueCase } from './queue-lib/cases.js';

const NAME = 'p-queue (concurrency 1)';
const GROUP = 'queue-4q';
export default pQueueCase({ name: NAME, group: GROUP, baseline: true });
