// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): a minimal hand-written queue, every job through its worker event.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, worker';
const GROUP = 'queue-4q';
export default minimalQueueCase({ name: NAME, group: GROUP }, false);
