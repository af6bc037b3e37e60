export { ERRNO, MAX_ERRNO, errnoName, isErrorValue, type ErrnoName } from './errno.js';
export { DepError, errnoOf, isDepError, type DepErrorOptions } from './error.js';
export {
  DepWarning,
  ReportSink,
  isDepWarning,
  type Checks,
  type Report,
  type ReportKind,
  type ReportListener,
  type ReportOrigin,
} from './report.js';
export { Prng } from './random.js';
export { isAtomicContext, type ExecContext } from './context.js';
export { Task, type HeldLock, type TaskState } from './task.js';
export { EventQueue, type ExecEvent } from './event-queue.js';
export { Executor, type ExecutorHooks, type ExecutorStats } from './executor.js';
export { VirtualExecutor } from './virtual-executor.js';
export { RealExecutor } from './real-executor.js';
export {
  INTERRUPTED,
  Runtime,
  TIMED_OUT,
  type BlockedWait,
  type IdleResult,
  type RuntimeOptions,
  type SpawnOptions,
  type StallHook,
  type TaskHandle,
  type WaitOptions,
  type Waker,
} from './runtime.js';
export { Timer } from './timer.js';
export {
  ChromeTraceSink,
  FtraceTextSink,
  MemoryTraceSink,
  Tracer,
  formatFtraceLine,
  traceHash,
  type ChromeTraceEvent,
  type TraceArg,
  type TraceClock,
  type TraceEventMap,
  type TraceName,
  type TraceOptions,
  type TracePhase,
  type TraceRecord,
  type TraceSink,
} from './trace.js';
export { getDefaultRuntime, setDefaultRuntime } from './default-runtime.js';
export {
  DMA_FENCE_MAP,
  LockClass,
  Lockdep,
  MAX_LOCKDEP_SUBCLASSES,
  type AcquireOptions,
  type LockDependency,
  type LockEdge,
  type LockReadMode,
} from './lockdep.js';
export { SpinLock } from './spinlock.js';
export { Mutex, type LockInterruptibleOptions } from './mutex.js';
export { WW_EALREADY, WW_EDEADLK, WwAcquireCtx, WwClass, WwMutex, type WwLockOptions } from './ww-mutex.js';
export { Completion, type CompletionWaitOptions } from './completion.js';
export {
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  FS_RECLAIM_MAP,
  fsReclaimAcquire,
  fsReclaimRelease,
  gfpAllowsBlocking,
  touchFsReclaim,
  type Gfp,
} from './alloc.js';
export { FaultInjector, FaultRule, type FaultRuleSpec, type InjectedFault } from './fault-inject.js';
export { LifetimeTracker, type LifetimeToken } from './lifetime.js';
export { Kref, type KrefOptions } from './kref.js';
export {
  IosysMap,
  type IosysBigintType,
  type IosysBuffer,
  type IosysMapOptions,
  type IosysNumberType,
  type IosysType,
} from './iosys-map.js';
export { DelayedWork, Work, Workqueue, type WorkFn, type WorkqueueOptions } from './workqueue.js';
