// The conformance kit (@dep/conformance) against the amdxdna adapter: one test per check.
import { describeConformance } from '@dep/conformance/vitest';
import { amdxdnaConformanceAdapter } from './conformance.js';

describeConformance(amdxdnaConformanceAdapter, { seeds: [1, 2], chaos: true });
