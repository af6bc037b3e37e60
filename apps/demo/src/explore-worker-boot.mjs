// Worker bootstrap for `explore`: worker threads do not inherit the parent's `--import tsx`
// loader on Node 20, so register it here, then load the TypeScript worker.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
