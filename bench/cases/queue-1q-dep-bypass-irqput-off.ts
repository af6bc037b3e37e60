// Group "queue-1q" (one queue, independent jobs): @dep/queue, checks off: bypass and IRQ-safe job put.
import { depCase } from './queue-lib/cases.js';

const NAME = 'DepQueue bypass + IRQ put (off)';
const GROUP = 'queue-1q';
export default depCase({ name: NAME, group: GROUP }, { checks: 'off', bypass: true, irqPut: true });
