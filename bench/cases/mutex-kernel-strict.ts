// Group "mutex": @dep/kernel's Mutex await lock() + unlock() with checks strict.
import { mutexCase } from '../lib/kernel-cases.js';

export default mutexCase('strict');
