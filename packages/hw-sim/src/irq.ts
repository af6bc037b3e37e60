import type { Runtime } from '@dep/kernel';
import { fail } from './validate.js';

/** Raised once when the device is lost; nothing else follows. */
export interface DeviceLostIrq {
  readonly kind: 'device-lost';
  readonly reason: string;
}

/** An interrupt handler (`request_irq`): runs in irq context, must not sleep. */
export type IrqHandler<I> = (ev: I | DeviceLostIrq) => void;

/**
 * The device's interrupt line. The device raises an event; it is delivered at the same
 * instant in irq context through `rt.queueIrq` to the one registered handler (a second
 * `request` is EBUSY, as for a non-shared IRQ). With no handler the interrupt is counted
 * and traced as unhandled.
 */
export class IrqLine<I extends { readonly kind: string }> {
  readonly #rt: Runtime;
  readonly #dev: string;
  readonly #lane: string;
  #handler: IrqHandler<I> | null = null;
  /** Interrupts raised so far. */
  raised = 0;
  /** Interrupts delivered with no handler registered. */
  unhandled = 0;

  constructor(rt: Runtime, devName: string) {
    this.#rt = rt;
    this.#dev = devName;
    this.#lane = `${devName}:irq`;
  }

  /** True while a handler is registered. */
  get requested(): boolean {
    return this.#handler !== null;
  }

  /** Register the handler; returns `free_irq`. EBUSY if one is registered. */
  request(handler: IrqHandler<I>): () => void {
    if (typeof handler !== 'function') fail('EINVAL', 'requestIrq(handler): pass a function (ev) => void; it runs in irq context');
    if (this.#handler !== null) fail('EBUSY', `the ${this.#dev} interrupt line already has a handler; free it first (call the function requestIrq returned)`);
    this.#handler = handler;
    return () => {
      if (this.#handler === handler) this.#handler = null;
    };
  }

  /** Raise `ev`: delivered now, in irq context. `detail` is only for the trace. */
  raise(ev: I | DeviceLostIrq, detail?: string): void {
    this.raised++;
    this.#rt.queueIrq(() => this.#deliver(ev, detail));
  }

  #deliver(ev: I | DeviceLostIrq, detail: string | undefined): void {
    const h = this.#handler;
    const rt = this.#rt;
    if (rt.trace.enabled) {
      rt.trace.emit('irq:irq_handler_entry', { name: `${this.#dev}:${ev.kind}` });
      rt.trace.emit('hw:irq', { dev: this.#dev, kind: ev.kind, detail, handled: h !== null }, { lane: this.#lane });
    }
    if (h === null) {
      this.unhandled++;
      return;
    }
    h(ev);
  }
}
