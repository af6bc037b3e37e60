// Group "spinlock": @dep/kernel's SpinLock lock + unlock with checks strict.
import { spinlockCase } from '../lib/kernel-cases.js';

export default spinlockCase('strict');
