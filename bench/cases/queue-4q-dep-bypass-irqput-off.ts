// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): @dep/queue, checks off: bypass and IRQ-safe job put.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + IRQ put (off)';
const GROUP = 'queue-4q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: true, irqPut: true });
