// Group "queue-1q" (one queue, independent jobs): @dep/queue, checks strict: bypass and IRQ-safe job put.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + IRQ put (strict)';
const GROUP = 'queue-1q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'strict', bypass: true, irqPut: true });
