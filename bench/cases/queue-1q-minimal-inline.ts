// Group "queue-1q" (one queue, independent jobs): the minimal queue running a ready job inline from push.
import { minimalQueueCase } from './queue-lib/cases.js';

const NAME = 'minimal queue, inline';
const GROUP = 'queue-1q';
export default minimalQueueCase({ name: NAME, group: GROUP }, true);
