// Public API of @dep/conformance: explicit named re-exports only. Anything not exported here
// does not exist for other packages. The vitest suite is the `./vitest` subpath.
export type {
  AdapterFeatures,
  ConformanceAdapter,
  ConformanceClient,
  ConformanceDevice,
  ConformanceQueue,
  DeviceSetup,
  IoctlCase,
  JobKind,
  JobSpec,
} from './adapter.js';
export { importFence, submitWithSyncobjs } from './import-fence.js';
export {
  formatConformanceReport,
  listChecks,
  runConformance,
  type CheckName,
  type CheckResult,
  type ConformanceOptions,
  type ConformanceReport,
} from './runner.js';
