// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): @dep/queue, checks off: bypass and IRQ-safe job put.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + IRQ put (off)';
const GROUP = 'queue-4q-steady';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: true, irqPut: true });
