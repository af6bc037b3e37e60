import type { ExecEvent } from '@dep/kernel';
import type { AieFirmware } from './firmware.js';
import { MailboxChannel, type X2iEntry } from './mailbox.js';
import type { AieContextState, ColumnRange, MailboxResponse } from './types.js';

/** A message being executed. */
export interface AieExec {
  readonly entry: X2iEntry;
  readonly start: number;
  readonly failedIndex: number;
  readonly errno: number;
  ev: ExecEvent | null;
}

/**
 * An NPU hardware context: a contiguous column partition and a mailbox channel. Send
 * work with `mailbox.send(msg, handler)`; the firmware runs one message at a time on the
 * context's columns and answers each. {@link AieHwContext.destroy} aborts everything pending (each
 * handler gets an `aborted`, no-data response) and frees the columns.
 */
export class AieHwContext {
  readonly id: number;
  readonly name: string;
  readonly columns: ColumnRange;
  readonly mailbox: MailboxChannel;
  /** @internal */
  st: AieContextState = 'init';
  /** @internal */
  current: AieExec | null = null;
  /** @internal */
  pumpEv: ExecEvent | null = null;
  /** @internal Responses waiting for room in the device→host ring. */
  outbox: MailboxResponse[] = [];
  /** @internal */
  rxQueued = false;
  /** @internal */
  runAccum = 0;
  /** Messages answered by the firmware. */
  completed = 0;
  readonly #fw: AieFirmware;

  /**  (Not for drivers.) */
  constructor(fw: AieFirmware, id: number, name: string, columns: ColumnRange, x2iWords: number, i2xWords: number) {
    this.#fw = fw;
    this.id = id;
    this.name = name;
    this.columns = columns;
    this.mailbox = new MailboxChannel(fw, this, x2iWords, i2xWords);
  }

  get state(): AieContextState {
    return this.st;
  }

  /** Time spent executing messages, ms. */
  runtimeMs(): number {
    return this.runAccum + (this.current !== null ? this.#fw.now() - this.current.start : 0);
  }

  /**
   * Destroy the context in firmware: the running message stops, every pending message's
   * handler gets an `aborted` response, the columns are freed. Resolves once done
   * (after the management round trip). Sleeps. ENOENT if already destroyed.
   */
  destroy(): Promise<void> {
    return this.#fw.destroyContext(this);
  }
}
