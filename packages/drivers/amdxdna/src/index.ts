// Public API of @dep/driver-amdxdna: explicit named re-exports only. Anything not exported here
// does not exist for other packages.

// The amdxdna:* tracepoints (declaration merging into @dep/kernel's TraceEventMap).
import './trace-events.js';
export type { AmdxdnaHwctxTraceOp, AmdxdnaJobTraceWhat } from './trace-events.js';
export { AmdxdnaDevice, createAmdxdnaDevice, type AmdxdnaDeviceOptions, type AmdxdnaDeviceStats } from './device.js';
export { AmdxdnaFile, type AmdxdnaHwctxInfo, type AmdxdnaInfo } from './file.js';
export {
  AmdxdnaHwFence,
  AmdxdnaHwctx,
  AmdxdnaJob,
  getCmdOpcode,
  getCmdState,
  setCmdState,
  writeChain,
  writeCommand,
  type AmdxdnaCuConfig,
  type AmdxdnaHwctxInit,
  type AmdxdnaHwctxStats,
  type AmdxdnaHwctxStatus,
} from './hwctx.js';
export { Semaphore } from './semaphore.js';
export {
  AIE_CORE_ROWS,
  AMDXDNA_IOCTLS,
  AmdxdnaBoType,
  AmdxdnaCmdType,
  AmdxdnaConfigHwctxParam,
  AmdxdnaGetParam,
  CONFIG_HWCTX,
  CREATE_BO,
  CREATE_HWCTX,
  ChainLayout,
  CmdLayout,
  DESTROY_HWCTX,
  EXEC_CMD,
  ErtCmdState,
  ErtOpcode,
  GET_BO_INFO,
  GET_INFO,
  HWCTX_MAX_CMDS,
  HWCTX_MAX_TIMEOUT,
  MAX_ARG_COUNT,
  MAX_CHAIN_CMDS,
  MAX_NUM_CUS,
  WAIT_CMD,
  type AmdxdnaBoTypeValue,
  type ErtCmdStateValue,
} from './uapi.js';
