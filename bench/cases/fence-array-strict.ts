// Group "fence-array": a DmaFenceArray over 8 fences, checks strict.
import { fenceArrayCase } from '../lib/fence-cases.js';

export default fenceArrayCase({ name: 'DmaFenceArray over 8 (strict)', group: 'fence-array', checks: 'strict' });
