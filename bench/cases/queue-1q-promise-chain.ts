// Group "queue-1q" (one queue, independent jobs): a promise chain per queue (Promise.all with the cross dependency).
import { promiseChainCase } from './queue-lib/cases.js';

const NAME = 'promise chain';
const GROUP = 'queue-1q';
export default promiseChainCase({ name: NAME, group: GROUP });
