/**
 * The amdxdna uAPI (include/uapi/drm/amdxdna_accel.h) as argument schemas for `@dep/drm`'s
 * validator, with the constants of the command BO format (`struct amdxdna_cmd`, the ERT
 * command states) and the driver's limits (drivers/accel/amdxdna/aie2_ctx.c).
 */
import { GEM_MAX_SIZE, array, countOf, defineIoctl, handle, oneOf, pad, struct, u32, u64, u8 } from '@dep/drm';

/** `HWCTX_MAX_CMDS`: commands one hardware context has outstanding at most (credit limit and semaphore size). */
export const HWCTX_MAX_CMDS = 4;
/** `HWCTX_MAX_TIMEOUT`: the scheduler's job timeout, ms (60 s). */
export const HWCTX_MAX_TIMEOUT = 60_000;
/** `MAX_ARG_COUNT`: argument BOs of one command at most. */
export const MAX_ARG_COUNT = 4095;
/** Core tile rows per column of the simulated NPU (`metadata.core.row_count`): `num_tiles / rows` columns. */
export const AIE_CORE_ROWS = 4;

/** `enum amdxdna_bo_type`. */
export const AmdxdnaBoType = {
  SHMEM: 1,
  DEV_HEAP: 2,
  DEV: 3,
  CMD: 4,
} as const;
/** A value of {@link AmdxdnaBoType}. */
export type AmdxdnaBoTypeValue = (typeof AmdxdnaBoType)[keyof typeof AmdxdnaBoType];

/** `enum amdxdna_cmd_type`: only `SUBMIT_EXEC_BUF` is accepted by this driver (the others are EINVAL). */
export const AmdxdnaCmdType = {
  SUBMIT_EXEC_BUF: 0,
  SUBMIT_DEPENDENCY: 1,
  SUBMIT_SIGNAL: 2,
} as const;

/** `enum ert_cmd_state`: what the driver writes into a command BO's header. */
export const ErtCmdState = {
  INVALID: 0,
  NEW: 1,
  QUEUED: 2,
  RUNNING: 3,
  COMPLETED: 4,
  ERROR: 5,
  ABORT: 6,
  SUBMITTED: 7,
  TIMEOUT: 8,
  NORESPONSE: 9,
} as const;
/** A value of {@link ErtCmdState}. */
export type ErtCmdStateValue = (typeof ErtCmdState)[keyof typeof ErtCmdState];

/** ERT opcodes of a command BO header (`ERT_START_CU`, `ERT_CMD_CHAIN`). */
export const ErtOpcode = {
  START_CU: 0,
  CMD_CHAIN: 19,
} as const;

/**
 * Layout of a command BO (`struct amdxdna_cmd`): a u32 header — state in bits 3:0
 * (`AMDXDNA_CMD_STATE`), payload count in 22:12 (`AMDXDNA_CMD_COUNT`), opcode in 27:23
 * (`AMDXDNA_CMD_OPCODE`) — then the payload: the CU mask, then (the model's stand-in for
 * the real payload) the work units the firmware's cost model charges.
 */
export const CmdLayout = {
  HEADER_OFFSET: 0,
  CU_MASK_OFFSET: 4,
  UNITS_OFFSET: 8,
  STATE_MASK: 0xf,
  COUNT_SHIFT: 12,
  COUNT_MASK: 0x7ff,
  OPCODE_SHIFT: 23,
  OPCODE_MASK: 0x1f,
} as const;

/**
 * Payload of an `ERT_CMD_CHAIN` command BO (`struct amdxdna_cmd_chain`, after the header):
 * `command_count`, `submit_index`, `error_index`, three reserved words, then one u64 per
 * command: the handle of a command BO (its low word).
 */
export const ChainLayout = {
  COUNT_OFFSET: 4,
  SUBMIT_INDEX_OFFSET: 8,
  ERROR_INDEX_OFFSET: 12,
  DATA_OFFSET: 28,
} as const;

/** Commands one chain may hold at most (the model's bound; the driver's is the chain buffer size). */
export const MAX_CHAIN_CMDS = 64;

/** `enum amdxdna_drm_get_param` values this driver answers. */
export const AmdxdnaGetParam = {
  QUERY_AIE_STATUS: 0,
  QUERY_AIE_METADATA: 1,
  QUERY_AIE_VERSION: 2,
  QUERY_CLOCK_METADATA: 3,
  QUERY_SENSORS: 4,
  QUERY_HW_CONTEXTS: 5,
  QUERY_FIRMWARE_VERSION: 8,
  GET_POWER_MODE: 9,
} as const;

/**
 * `DRM_IOCTL_AMDXDNA_CREATE_HWCTX` (`struct amdxdna_drm_create_hwctx`). `ext`/`ext_flags`
 * must be zero; `qos_p` is accepted and ignored (the model has no QoS solver); `umq_bo` and
 * `log_buf_bo` are ignored as aie2 ignores them; `num_tiles / AIE_CORE_ROWS` columns are
 * allocated (EINVAL when that is 0 or more than the device has).
 */
export const CREATE_HWCTX = defineIoctl('DRM_IOCTL_AMDXDNA_CREATE_HWCTX', {
  ext: u64({ max: 0n }),
  extFlags: u64({ max: 0n }),
  qosP: u64(),
  umqBo: u32(),
  logBufBo: u32(),
  maxOpc: u32(),
  numTiles: u32(),
  memSize: u32(),
});

/** `DRM_IOCTL_AMDXDNA_DESTROY_HWCTX`: a handle naming nothing is EINVAL (the driver's `xa_erase` found nothing). */
export const DESTROY_HWCTX = defineIoctl('DRM_IOCTL_AMDXDNA_DESTROY_HWCTX', {
  handle: handle('hwctx', { missing: 'EINVAL' }),
  pad: pad(),
});

/** `enum amdxdna_drm_config_hwctx_param`. */
export const AmdxdnaConfigHwctxParam = {
  CONFIG_CU: 0,
  ASSIGN_DBG_BUF: 1,
  REMOVE_DBG_BUF: 2,
} as const;

/** CUs one context may configure at most (the model's bound on `num_cus`; the firmware takes 1…64). */
export const MAX_NUM_CUS = 32;

/**
 * `DRM_IOCTL_AMDXDNA_CONFIG_HWCTX` (`struct amdxdna_drm_config_hwctx`) with the
 * `CONFIG_CU` parameter buffer (`struct amdxdna_hwctx_param_config_cu`) inlined: `numCus`
 * and `cuConfigs` (`{ cuBo, cuFunc }`, `cu_bo` a DEV BO). Unknown `paramType` is EINVAL,
 * the debug-buffer types EOPNOTSUPP, a handle naming no context EINVAL.
 */
export const CONFIG_HWCTX = defineIoctl('DRM_IOCTL_AMDXDNA_CONFIG_HWCTX', {
  handle: handle('hwctx', { missing: 'EINVAL' }),
  paramType: u32(),
  numCus: countOf('cuConfigs', { max: MAX_NUM_CUS }),
  cuConfigs: array(struct({ cuBo: handle('gem', { missing: 'EINVAL' }), cuFunc: u8(), pad: pad() }), { count: 'numCus' }),
  pad: pad(),
});

/** `DRM_IOCTL_AMDXDNA_CREATE_BO` (`struct amdxdna_drm_create_bo`): `flags` and `vaddr` MBZ. */
export const CREATE_BO = defineIoctl('DRM_IOCTL_AMDXDNA_CREATE_BO', {
  flags: u64({ max: 0n }),
  vaddr: u64({ max: 0n }),
  size: u64({ min: 1n, max: GEM_MAX_SIZE }),
  type: oneOf([AmdxdnaBoType.SHMEM, AmdxdnaBoType.DEV_HEAP, AmdxdnaBoType.DEV, AmdxdnaBoType.CMD]),
});

/** `DRM_IOCTL_AMDXDNA_GET_BO_INFO`: `ext`/`ext_flags`/`pad` MBZ. */
export const GET_BO_INFO = defineIoctl('DRM_IOCTL_AMDXDNA_GET_BO_INFO', {
  ext: u64({ max: 0n }),
  extFlags: u64({ max: 0n }),
  handle: handle('gem'),
  pad: pad(),
});

/**
 * `DRM_IOCTL_AMDXDNA_EXEC_CMD` (`struct amdxdna_drm_exec_cmd`). `cmdHandles` is the command
 * BO handle itself (`cmd_count` must be 1, as the driver accepts a single command); a
 * command handle naming no command BO is EINVAL, an argument handle naming nothing ENOENT,
 * a hardware context naming nothing EINVAL — the driver's order and codes.
 */
export const EXEC_CMD = defineIoctl('DRM_IOCTL_AMDXDNA_EXEC_CMD', {
  ext: u64({ max: 0n }),
  extFlags: u64({ max: 0n }),
  hwctx: handle('hwctx', { missing: 'EINVAL' }),
  type: oneOf([AmdxdnaCmdType.SUBMIT_EXEC_BUF]),
  cmdHandles: handle('gem', { missing: 'EINVAL' }),
  cmdCount: u32({ min: 1, max: 1 }),
  argCount: countOf('args', { max: MAX_ARG_COUNT }),
  args: array(handle('gem'), { count: 'argCount' }),
});

/**
 * `DRM_IOCTL_AMDXDNA_WAIT_CMD` of the first upstream uAPI (`struct amdxdna_drm_wait_cmd`,
 * later replaced by waiting on the context's syncobj): wait for command `seq` of `hwctx`,
 * `timeout` ms (0: forever). ETIME when it runs out, ERESTARTSYS when interrupted.
 */
export const WAIT_CMD = defineIoctl('DRM_IOCTL_AMDXDNA_WAIT_CMD', {
  hwctx: handle('hwctx', { missing: 'EINVAL' }),
  timeout: u32(),
  seq: u64(),
});

/** `DRM_IOCTL_AMDXDNA_GET_INFO`: parameters this driver does not answer are EOPNOTSUPP. */
export const GET_INFO = defineIoctl('DRM_IOCTL_AMDXDNA_GET_INFO', {
  param: u32(),
  bufferSize: u32(),
});

/** Every amdxdna ioctl schema, by name. */
export const AMDXDNA_IOCTLS = {
  CREATE_HWCTX,
  DESTROY_HWCTX,
  CONFIG_HWCTX,
  CREATE_BO,
  GET_BO_INFO,
  EXEC_CMD,
  WAIT_CMD,
  GET_INFO,
} as const;
