// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): @dep/queue, checks off: run worker and put worker.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue worker + put worker (off)';
const GROUP = 'queue-4q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: false, irqPut: false });
