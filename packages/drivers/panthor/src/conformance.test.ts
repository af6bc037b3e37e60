// The conformance kit (@dep/conformance) against the panthor adapter: one test per check.
import { describeConformance } from '@dep/conformance/vitest';
import { panthorConformanceAdapter } from './conformance.js';

describeConformance(panthorConformanceAdapter, { seeds: [1, 2], chaos: true });
