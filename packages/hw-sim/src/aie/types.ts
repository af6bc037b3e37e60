import type { DeviceConfig } from '../device.js';

/** Message ids carry this tag in their top byte (amdxdna's MAGIC_VAL). */
export const MSG_ID_MAGIC = 0x1d000000;
/** Mask of the tag. */
export const MSG_ID_MAGIC_MASK = 0xff000000;
/** Message ids per channel (the low byte): at most this many messages outstanding. */
export const MAX_MSG_IDS = 256;

/** Mailbox opcodes. */
export type AieOpcode = 'execbuf' | 'chain' | 'config-cu';

/** A host→device mailbox message. */
export type MailboxMessage =
  /** Run one command (a command BO) for the cost of `units` on the context's columns. */
  | { readonly opcode: 'execbuf'; readonly units: number; readonly label?: string }
  /** Run a command list in order; a failure stops it and names the failing index. */
  | { readonly opcode: 'chain'; readonly units: readonly number[] }
  /** Configure compute units (no execution time). */
  | { readonly opcode: 'config-cu'; readonly cus: number };

/** The firmware's answer to one message. */
export interface MailboxResponse {
  /** The message id (tag | index). */
  readonly id: number;
  readonly opcode: AieOpcode;
  /** `ok`; `error` (the firmware reported a failure); `aborted` (the channel was destroyed: no data). */
  readonly status: 'ok' | 'error' | 'aborted';
  /** 0, or the negative errno of the failure (`-ECANCELED` when aborted). */
  readonly errno: number;
  /** Failing command of a chain (or 0 for a failed execbuf); -1 when none failed. */
  readonly failedIndex: number;
  /** The response words as the firmware wrote them ([status, failedIndex]); null for "no data". */
  readonly data: readonly number[] | null;
}

/** Called in irq context with the response to a message. */
export type MailboxHandler = (response: MailboxResponse) => void;

/** A contiguous range of NPU columns. */
export interface ColumnRange {
  readonly start: number;
  readonly count: number;
}

/** Options of `createContext`. */
export interface AieContextOptions {
  /** Columns to allocate (contiguous). */
  readonly columns: number;
  readonly name?: string;
}

/** Hardware context states: `init` (being created), `ready`, `destroying`, `destroyed`. */
export type AieContextState = 'init' | 'ready' | 'destroying' | 'destroyed';

/** AIE device configuration. */
export interface AieConfig extends DeviceConfig {
  /** NPU columns. Default 4. */
  readonly columns?: number;
  /** Hardware contexts at most. Default 16. */
  readonly maxContexts?: number;
  /** Management message round trip (create/destroy context), ms. Default 0.1. */
  readonly mgmtLatencyMs?: number;
  /** Time for the firmware to pick up a message after it was sent, ms. Default 0.01. */
  readonly msgLatencyMs?: number;
  /** Host→device ring size in words (power of two). Default 256. */
  readonly x2iRingWords?: number;
  /** Device→host ring size in words (power of two). Default 256. */
  readonly i2xRingWords?: number;
}

/** Interrupts of an AIE device (per-message responses go to their handlers first). */
export type AieIrq =
  /** A context's mailbox delivered `responses` responses (after their handlers ran). */
  { readonly kind: 'mailbox'; readonly ctx: number; readonly responses: number };
