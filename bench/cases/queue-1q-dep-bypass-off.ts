// Group "queue-1q" (one queue, independent jobs): @dep/queue, checks off: submit-workqueue bypass, put worker.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + put worker (off)';
const GROUP = 'queue-1q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: true, irqPut: false });
