// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): @dep/queue, checks off: run worker and put worker.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue worker + put worker (off)';
const GROUP = 'queue-4q-steady';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: false, irqPut: false });
