// Group "event-loop": the kernel's virtual executor against the binary-heap loop, checks off.
import { virtualExecutorCase } from '../lib/kernel-cases.js';

export default virtualExecutorCase('virtual-executor', 'off');
