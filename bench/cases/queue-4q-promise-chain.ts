// Group "queue-4q" (4 queues, each job depending on the previous one (on another queue)): a promise chain per queue (Promise.all with the cross dependency).
import { promiseChainCase } from './queue-lib/cases.js';

const NAME = 'promise chain';
const GROUP = 'queue-4q';
export default promiseChainCase({ name: NAME, group: GROUP });
