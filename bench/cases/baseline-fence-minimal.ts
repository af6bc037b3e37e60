// Group "fence", baseline: create a fence, add one (fence, arg) callback, signal it.
import { minimalFenceCase } from '../lib/fence-cases.js';

export default minimalFenceCase({ name: 'minimal-fence', group: 'fence', baseline: true });
