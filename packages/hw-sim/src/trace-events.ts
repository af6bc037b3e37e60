/**
 * The simulated device's tracepoints. Every event names its device (`dev`); engine
 * activity goes on one lane per engine (`<dev>:<engine>`, e.g. `gpu0:rcs0`), interrupts
 * on `<dev>:irq`, firmware messages on `<dev>:fw`, memory on `<dev>:mem`.
 *
 * Batches are `B`/`E` pairs on their engine lane (a batch can be preempted part-way, so
 * its length is only known when it stops; the tracer stamps events with the current time
 * only, so an `X` slice would need its duration up front).
 */
declare module '@dep/kernel' {
  interface TraceEventMap {
    /** A zero-time ring command executed (seqno/user-fence/protected-fence write, interrupt, semaphore pass). */
    'hw:cmd': { dev: string; ctx: string; op: string; addr: number | undefined; value: bigint | undefined };
    /** A batch running on an engine (`B` when a piece starts, `E` when it ends, completed or not). */
    'hw:batch': { dev: string; ctx: string; units: number; end: string | undefined };
    /** A context blocked on, or released from, a semaphore wait. */
    'hw:semaphore': { dev: string; ctx: string; addr: number; value: bigint; cmp: string; state: string };
    /** Preemption: `request` (decided), `start` (save begins), `saved`, `timeout`. */
    'hw:preempt': { dev: string; ctx: string; engine: string; reason: string; phase: string; latency: number | undefined };
    /** An interrupt raised by the device (delivered through `rt.queueIrq`). */
    'hw:irq': { dev: string; kind: string; detail: string | undefined; handled: boolean };
    /** A doorbell rung: the firmware now sees the ring's tail. */
    'hw:doorbell': { dev: string; ctx: string; tail: number };
    /** A host→firmware request (`dir: 'h2g'`) or firmware→host reply/notification (`'g2h'`). */
    'hw:fw': { dev: string; dir: string; type: string; target: string | undefined; status: number | undefined };
    /** A CSF group slot change: `load`, `suspend`, `suspended`, `terminate`, `evict`. */
    'hw:csg': { dev: string; group: number; slot: number | undefined; op: string; priority: string };
    /** A mailbox message sent (`send`), taken by firmware (`take`), answered (`resp`). */
    'hw:mbox': { dev: string; ctx: string; id: number; opcode: string; op: string; status: string | undefined };
    /** An injected or detected fault: `hang`, `stall`, `page-fault`, `fw-error`, `lost`. */
    'hw:fault': { dev: string; kind: string; ctx: string | undefined; detail: string | undefined };
    /** An engine (or the whole device) reset, and the context it found guilty. */
    'hw:reset': { dev: string; engine: string; ctx: string | undefined; reason: string };
    /** Device memory: `alloc`, `free`, `evict` (an eviction callback asked to make room). */
    'hw:mem': { dev: string; region: string; op: string; addr: number | undefined; size: number };
  }
}

export {};
