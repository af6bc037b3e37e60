// Public API of @dep/hw-sim: explicit named re-exports only. Anything not exported here
// does not exist for other packages.

// The hw:* tracepoints (declaration merging into @dep/kernel's TraceEventMap).
import './trace-events.js';

// Devices
export { Device, type DeviceConfig, type DeviceStats } from './device.js';
export type { DeviceLostIrq, IrqHandler } from './irq.js';

// Memory
export { DeviceMemory, MEM_ALLOC_SITE, type AllocOptions, type EvictRequest, type Evictor, type MemoryConfig, type RegionConfig, type RegionKind } from './memory/device-memory.js';
export { HwBuffer } from './memory/buffer.js';
export { MemoryRegion } from './memory/region.js';
export { RangeAllocator, type AllocatedRange } from './memory/range-allocator.js';

// Rings and commands
export { Ring, type RingOptions, type RingWrap } from './ring.js';
export {
  COMMAND_DWORDS,
  commandDwords,
  createCommandRing,
  isCommandRing,
  validateCommand,
  type BatchCommand,
  type Command,
  type CommandOp,
  type CommandRing,
  type InterruptCommand,
  type NoopCommand,
  type ProtectedFenceCommand,
  type SemaphoreWaitCommand,
  type SeqnoWriteCommand,
  type UserFenceWriteCommand,
} from './commands.js';

// Engines, cost model, execution
export { ENGINE_CLASSES, ENGINE_PREFIX, Engine, type EngineClass, type EngineCounts, type EngineState } from './engine.js';
export { CostModel, type ClassCost, type CostConfig } from './cost-model.js';
export type { HwContextState } from './hw-context.js';

// Fault injection
export { FaultPlan, HwFaultRule, type HwFaultKind, type HwFaultSpec, type InjectedHwFault } from './faults.js';

// GuC-like firmware (xe)
export { GucDevice, createGucDevice } from './guc/device.js';
export { GucFirmware, type GucTimings } from './guc/firmware.js';
export {
  GUC_PRIORITY,
  type G2hMessage,
  type GucAction,
  type GucConfig,
  type GucContextDesc,
  type GucContextInfo,
  type GucIrq,
  type GucPolicies,
  type GucPriority,
} from './guc/types.js';

// CSF-like firmware (panthor)
export { CsfDevice, createCsfDevice } from './csf/device.js';
export { CsfFirmware, type CsfTimings } from './csf/firmware.js';
export { CsfGroup, CsfQueue } from './csf/group.js';
export {
  CSF_PRIORITIES,
  CSF_SYNC_SEQNO_OFFSET,
  CSF_SYNC_SIZE,
  CSF_SYNC_STATUS_FAULT,
  CSF_SYNC_STATUS_OFFSET,
  type CsfConfig,
  type CsfFaultReason,
  type CsfGroupDesc,
  type CsfGroupState,
  type CsfIrq,
  type CsfPriority,
  type CsfQueueDesc,
} from './csf/types.js';

// AIE-like firmware (amdxdna)
export { AieDevice, createAieDevice } from './aie/device.js';
export { AieFirmware, type AieTimings } from './aie/firmware.js';
export { AieHwContext } from './aie/context.js';
export { ColumnAllocator } from './aie/column-allocator.js';
export { MSG_HEADER_WORDS, MailboxChannel, type I2xEntry, type X2iEntry, RESPONSE_WORDS, isMessageId, messageWords, validateMessage } from './aie/mailbox.js';
export {
  MAX_MSG_IDS,
  MSG_ID_MAGIC,
  MSG_ID_MAGIC_MASK,
  type AieConfig,
  type AieContextOptions,
  type AieContextState,
  type AieIrq,
  type AieOpcode,
  type ColumnRange,
  type MailboxHandler,
  type MailboxMessage,
  type MailboxResponse,
} from './aie/types.js';
