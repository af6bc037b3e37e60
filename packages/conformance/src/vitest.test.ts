// The vitest wrapper registers one test per check: here against the correct toy adapter,
// and (skipped at run time, with the reason) a check the adapter lacks the feature for.
import { describeConformance } from './vitest.js';
import { toyAdapter } from './__fixtures__/toy-adapter.js';

describeConformance(toyAdapter(), { seeds: [2], chaos: true });

const base = toyAdapter();
describeConformance({ ...base, name: 'toy without hangs', features: { ...base.features, hangingJobs: false } }, { only: ['errors-propagate'] });
