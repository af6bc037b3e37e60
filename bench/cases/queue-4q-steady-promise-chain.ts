// Group "queue-4q-steady" (4 queues with cross dependencies, driven to idle every 1024 jobs): a promise chain per queue (Promise.all with the cross dependency).
import { promiseChainCase } from './queue-lib/cases.js';

const NAME = 'promise chain';
const GROUP = 'queue-4q-steady';
export default promiseChainCase({ name: NAME, group: GROUP });
