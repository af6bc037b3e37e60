// The vitest wrapper registers one test per check: here against the correct toy adapter.
import { describeConformance } from './vitest.js';
import { toyAdapter } from './__fixtures__/toy-adapter.js';

describeConformance(toyAdapter(), { seeds: [2], chaos: true });
