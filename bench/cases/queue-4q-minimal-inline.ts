// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): the minimal queue running a ready job inline from push.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, inline';
const GROUP = 'queue-4q';
export default minimalQueueCase({ name: NAME, group: GROUP }, true);
