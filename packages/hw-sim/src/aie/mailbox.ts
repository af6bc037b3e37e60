import { ERRNO } from '@dep/kernel';
import { Ring } from '../ring.js';
import { checkInt, checkNumber, checkOptions, fail } from '../validate.js';
import type { AieHwContext } from './context.js';
import type { AieFirmware } from './firmware.js';
import { MAX_MSG_IDS, MSG_ID_MAGIC, MSG_ID_MAGIC_MASK, type MailboxHandler, type MailboxMessage, type MailboxResponse } from './types.js';

/** A message in the host→device ring, with its id. */
export interface X2iEntry {
  readonly id: number;
  readonly msg: MailboxMessage;
}

/** A response in the device→host ring. */
export interface I2xEntry {
  readonly resp: MailboxResponse;
}

/** Words of a message header (size, opcode, id, flags). */
export const MSG_HEADER_WORDS = 4;
/** Words of a response (header + status + failing index). */
export const RESPONSE_WORDS = 4;

/** Words a message takes in the host→device ring. */
export function messageWords(msg: MailboxMessage): number {
  switch (msg.opcode) {
    case 'execbuf':
      return MSG_HEADER_WORDS + 4;
    case 'chain':
      return MSG_HEADER_WORDS + 2 + 2 * msg.units.length;
    case 'config-cu':
      return MSG_HEADER_WORDS + 2;
  }
}

/** Throws `DepError('EINVAL')` unless `msg` is a well-formed mailbox message. */
export function validateMessage(msg: MailboxMessage): void {
  checkOptions('mailbox message', msg);
  switch (msg.opcode) {
    case 'execbuf':
      checkNumber('execbuf units', msg.units, 0);
      if (msg.label !== undefined && typeof msg.label !== 'string') fail('EINVAL', 'execbuf label must be a string');
      return;
    case 'chain':
      if (!Array.isArray(msg.units) || msg.units.length === 0) fail('EINVAL', 'chain units must be a non-empty array of work units, one per command');
      msg.units.forEach((u, i) => checkNumber(`chain units[${i}]`, u, 0));
      return;
    case 'config-cu':
      checkInt('config-cu cus', msg.cus, 1, 64);
      return;
    default:
      msg satisfies never;
      fail('EINVAL', `unknown mailbox opcode ${JSON.stringify((msg as { opcode?: unknown }).opcode)}; use 'execbuf', 'chain' or 'config-cu'`);
  }
}

/** True if `id` carries the message-id tag. */
export function isMessageId(id: number): boolean {
  return Number.isInteger(id) && (id & MSG_ID_MAGIC_MASK) >>> 0 === MSG_ID_MAGIC;
}

/**
 * A mailbox channel (amdxdna's xdna_mailbox channel): a host→device ring and a
 * device→host ring of typed messages in words, with tombstone wrap; message ids are 256
 * per channel, tagged with {@link MSG_ID_MAGIC}, allocated cyclically; each message's
 * handler is kept by id (the xarray) and called in irq context with its response. A full
 * ring is ENOSPC, all ids in use EBUSY; nothing is sent in either case. Destroying the
 * channel (with its context) calls every pending handler with an `aborted`, no-data
 * response.
 */
export class MailboxChannel {
  /** Host→device ring. */
  readonly x2i: Ring<X2iEntry>;
  /** Device→host ring. */
  readonly i2x: Ring<I2xEntry>;
  readonly #fw: AieFirmware;
  readonly #ctx: AieHwContext;
  readonly #pending = new Map<number, { readonly msg: MailboxMessage; readonly handler: MailboxHandler }>();
  #next = 0;
  #closed = false;

  /** Made by the hardware context (not for drivers). */
  constructor(fw: AieFirmware, ctx: AieHwContext, x2iWords: number, i2xWords: number) {
    this.#fw = fw;
    this.#ctx = ctx;
    this.x2i = new Ring<X2iEntry>(x2iWords, { wrap: 'tombstone', sizeOf: (e) => messageWords(e.msg), name: `${ctx.name}.x2i` });
    this.i2x = new Ring<I2xEntry>(i2xWords, { wrap: 'tombstone', sizeOf: () => RESPONSE_WORDS, name: `${ctx.name}.i2x` });
  }

  /** Messages sent and not yet answered. */
  get outstanding(): number {
    return this.#pending.size;
  }

  /** True once the channel was destroyed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Send `msg`; `handler` runs in irq context with its response. Returns the message id.
   * EINVAL bad message, ESHUTDOWN channel destroyed, EBUSY all 256 ids outstanding,
   * ENOSPC host→device ring full.
   */
  send(msg: MailboxMessage, handler: MailboxHandler): number {
    this.#fw.checkContext(this.#ctx, 'mailbox send');
    validateMessage(msg);
    if (typeof handler !== 'function') fail('EINVAL', 'mailbox send(msg, handler): handler must be a function (response) => void');
    if (this.#closed) fail('ESHUTDOWN', `mailbox of ${this.#ctx.name} is destroyed; create a new hardware context`);
    if (this.#pending.size >= MAX_MSG_IDS) fail('EBUSY', `all ${MAX_MSG_IDS} message ids of ${this.#ctx.name} are outstanding; wait for responses`);
    let idx = this.#next;
    while (this.#pending.has((MSG_ID_MAGIC | idx) >>> 0)) idx = (idx + 1) % MAX_MSG_IDS;
    const id = (MSG_ID_MAGIC | idx) >>> 0;
    this.x2i.write({ id, msg }); // ENOSPC when full: nothing changed
    this.#next = (idx + 1) % MAX_MSG_IDS;
    this.#pending.set(id, { msg, handler });
    this.#fw.pump(this.#ctx);
    return id;
  }

  /** @internal Host rx (irq context): drain the device→host ring, run each handler. */
  rx(): number {
    let n = 0;
    for (let e = this.i2x.pop(); e !== undefined; e = this.i2x.pop()) {
      const p = this.#pending.get(e.resp.id);
      n++;
      if (p === undefined) continue; // stale or forged id: dropped, as amdxdna does
      this.#pending.delete(e.resp.id);
      p.handler(e.resp);
    }
    if (n > 0) this.#fw.flushOutbox(this.#ctx);
    return n;
  }

  /** @internal Destroy: drop both rings; return the aborted responses with their handlers, in send order. */
  close(): Array<{ handler: MailboxHandler; resp: MailboxResponse }> {
    this.#closed = true;
    this.x2i.discard();
    this.i2x.discard();
    const out: Array<{ handler: MailboxHandler; resp: MailboxResponse }> = [];
    for (const [id, p] of this.#pending) {
      out.push({ handler: p.handler, resp: { id, opcode: p.msg.opcode, status: 'aborted', errno: -ERRNO.ECANCELED, failedIndex: -1, data: null } });
    }
    this.#pending.clear();
    return out;
  }
}
