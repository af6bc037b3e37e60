// The conformance kit (@dep/conformance) against the xe adapter: one test per check.
import { describeConformance } from '@dep/conformance/vitest';
import { xeConformanceAdapter } from './conformance.js';

describeConformance(xeConformanceAdapter, { seeds: [1, 2], chaos: true });
