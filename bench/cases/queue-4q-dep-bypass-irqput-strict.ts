// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): @dep/queue, checks strict: bypass and IRQ-safe job put.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + IRQ put (strict)';
const GROUP = 'queue-4q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'strict', bypass: true, irqPut: true });
