// Group "fence-array": a DmaFenceArray over 8 fences, checks off.
import { fenceArrayCase } from '../lib/fence-cases.js';

export default fenceArrayCase({ name: 'DmaFenceArray over 8 (off)', group: 'fence-array', checks: 'off' });
