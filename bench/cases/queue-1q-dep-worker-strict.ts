// Group "queue-1q" (one queue, independent jobs): @dep/queue, checks strict (lockdep, lifetimes, wait-for graph): worker paths.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue worker + put worker (strict)';
const GROUP = 'queue-1q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'strict', bypass: false, irqPut: false });
