// Group "spinlock": @dep/kernel's SpinLock lock + unlock with checks off.
import { spinlockCase } from '../lib/kernel-cases.js';

export default spinlockCase('off');
