import { Runtime } from './runtime.js';

let defaultRuntime: Runtime | null = null;

/**
 * The process-wide default runtime, for simple use (a fence engine without a simulation):
 * real-time executor, checks `warn`. Made on first use. Objects created without an
 * explicit runtime belong to it.
 */
export function getDefaultRuntime(): Runtime {
  defaultRuntime ??= new Runtime({ executor: 'real', checks: 'warn', name: 'default' });
  return defaultRuntime;
}

/** Replace the default runtime (tests, an app that wants virtual time everywhere). */
export function setDefaultRuntime(rt: Runtime): void {
  defaultRuntime = rt;
}
