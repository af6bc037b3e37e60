import { Ring } from './ring.js';
import { checkAddr, checkInt, checkNumber, checkOptions, checkU64, fail } from './validate.js';

/** Run a batch buffer on the context's engine for the cost model's duration of `units`. */
export interface BatchCommand {
  readonly op: 'batch';
  /** Work units; duration = fixed + perUnit × units (± jitter) for the engine class. */
  readonly units: number;
  /** Optional label for traces. */
  readonly label?: string;
}

/** Write a 64-bit seqno to a kernel-owned location (the per-context seqno). */
export interface SeqnoWriteCommand {
  readonly op: 'seqnoWrite';
  readonly addr: number;
  readonly value: bigint;
}

/** Write a 64-bit value to a user-supplied location (a user fence). */
export interface UserFenceWriteCommand {
  readonly op: 'userFenceWrite';
  readonly addr: number;
  readonly value: bigint;
}

/** Wait until the 64-bit value at `addr` is `>= value` (`gte`, the default) or `== value` (`eq`). */
export interface SemaphoreWaitCommand {
  readonly op: 'semaphoreWait';
  readonly addr: number;
  readonly value: bigint;
  readonly compare?: 'gte' | 'eq';
}

/** Raise a user interrupt carrying `data`. */
export interface InterruptCommand {
  readonly op: 'interrupt';
  readonly data?: number;
}

/**
 * Write the ring's read pointer (free-running, in dwords, past this command) as a 64-bit
 * value to a kernel-chosen location (amdgpu's protected fence): neither value nor address
 * can be forged by the user, and `value >= wptr-at-submit` means everything before ran.
 */
export interface ProtectedFenceCommand {
  readonly op: 'protectedFence';
  readonly addr: number;
}

/** Do nothing (padding). */
export interface NoopCommand {
  readonly op: 'noop';
}

/** A ring command: a typed object in ring slots, not an encoding (ADR 0102). */
export type Command =
  | BatchCommand
  | SeqnoWriteCommand
  | UserFenceWriteCommand
  | SemaphoreWaitCommand
  | InterruptCommand
  | ProtectedFenceCommand
  | NoopCommand;

/** Command opcodes. */
export type CommandOp = Command['op'];

/**
 * Ring slots (dwords) each command takes, modelled on the Intel/AMD encodings: a batch
 * start is 3 dwords plus a flush (4); a 64-bit store is header + 2 address + 2 data
 * dwords (5, padded to 6 with a flush); a semaphore wait is 4; an interrupt 1; a
 * protected fence 4.
 */
export const COMMAND_DWORDS: Readonly<Record<CommandOp, number>> = {
  batch: 4,
  seqnoWrite: 6,
  userFenceWrite: 6,
  semaphoreWait: 4,
  interrupt: 1,
  protectedFence: 4,
  noop: 1,
};

/** Dwords a command takes in a ring. */
export function commandDwords(cmd: Command): number {
  return COMMAND_DWORDS[cmd.op];
}

/** Throws `DepError('EINVAL')` unless `cmd` is a well-formed command. */
export function validateCommand(cmd: Command): void {
  if (typeof cmd !== 'object' || cmd === null) fail('EINVAL', `ring command must be an object like { op: 'batch', units: 1 }, got ${String(cmd)}`);
  checkOptions('command', cmd);
  const op = (cmd as { op?: unknown }).op;
  switch (cmd.op) {
    case 'batch':
      checkNumber('batch units', cmd.units, 0);
      if (cmd.label !== undefined && typeof cmd.label !== 'string') fail('EINVAL', 'batch label must be a string');
      return;
    case 'seqnoWrite':
    case 'userFenceWrite':
      checkAddr(`${cmd.op} addr`, cmd.addr);
      checkU64(`${cmd.op} value`, cmd.value);
      return;
    case 'semaphoreWait':
      checkAddr('semaphoreWait addr', cmd.addr);
      checkU64('semaphoreWait value', cmd.value);
      if (cmd.compare !== undefined && cmd.compare !== 'gte' && cmd.compare !== 'eq') {
        fail('EINVAL', `semaphoreWait compare ${String(cmd.compare)}: pass 'gte' (mem >= value) or 'eq' (mem == value)`);
      }
      return;
    case 'interrupt':
      if (cmd.data !== undefined) checkInt('interrupt data', cmd.data, 0, 0xffffffff);
      return;
    case 'protectedFence':
      checkAddr('protectedFence addr', cmd.addr);
      return;
    case 'noop':
      return;
    default:
      cmd satisfies never;
      fail('EINVAL', `unknown ring command op ${JSON.stringify(op)}; use one of ${Object.keys(COMMAND_DWORDS).join(', ')}`);
  }
}

/** A ring of commands, as a context (LRC) or queue has: `split` wrap, sizes in dwords. */
export type CommandRing = Ring<Command>;

const commandRings = new WeakSet<object>();

/**
 * Make a command ring of `dwords` slots (a power of two; a 4 KiB ring is 1024). Commands
 * are validated on write (EINVAL) and refused as a whole when they do not fit (ENOSPC).
 */
export function createCommandRing(dwords: number, name = 'ring'): CommandRing {
  const ring = new Ring<Command>(dwords, { wrap: 'split', sizeOf: commandDwords, validate: validateCommand, name });
  commandRings.add(ring);
  return ring;
}

/** True if `ring` was made by {@link createCommandRing}. */
export function isCommandRing(ring: unknown): ring is CommandRing {
  return typeof ring === 'object' && ring !== null && commandRings.has(ring);
}
