// Group "fence": native Promise create + .then + resolve.
import { promiseCase } from '../lib/fence-cases.js';

export default promiseCase({ name: 'promise', group: 'fence' });
