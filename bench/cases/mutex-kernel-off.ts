// Group "mutex": @dep/kernel's Mutex await lock() + unlock() with checks off.
import { mutexCase } from '../lib/kernel-cases.js';

export default mutexCase('off');
