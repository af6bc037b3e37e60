// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): @dep/queue, checks strict (lockdep, lifetimes, wait-for graph): worker paths.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue worker + put worker (strict)';
const GROUP = 'queue-4q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'strict', bypass: false, irqPut: false });
