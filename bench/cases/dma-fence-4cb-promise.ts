// Group "dma-fence-4cb": native Promise with four reactions.
import { promiseCase } from '../lib/fence-cases.js';

export default promiseCase({ name: 'promise 4× .then', group: 'dma-fence-4cb', callbacks: 4 });
