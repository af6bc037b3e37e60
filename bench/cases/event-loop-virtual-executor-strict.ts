// Group "event-loop": the virtual executor with checks strict (end-of-event context checks on).
import { virtualExecutorCase } from '../lib/kernel-cases.js';

export default virtualExecutorCase('virtual-executor-strict', 'strict');
