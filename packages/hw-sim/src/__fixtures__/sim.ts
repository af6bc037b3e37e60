import { MemoryTraceSink, Runtime, type RuntimeOptions, type TraceRecord } from '@dep/kernel';
import type { Command } from '../commands.js';

/** A virtual runtime with an in-memory trace sink attached. */
export function traced(options: RuntimeOptions = {}): { rt: Runtime; sink: MemoryTraceSink } {
  const rt = new Runtime({ seed: 1, ...options });
  const sink = new MemoryTraceSink();
  rt.trace.attach(sink);
  return { rt, sink };
}

/** The usual job: a batch, a seqno write, an interrupt. */
export function job(units: number, seqAddr: number, seqno: bigint, data = 0): Command[] {
  return [
    { op: 'batch', units },
    { op: 'seqnoWrite', addr: seqAddr, value: seqno },
    { op: 'interrupt', data },
  ];
}

/** Times of the records with `name` matching `pred`. */
export function times<N extends TraceRecord['name']>(records: readonly TraceRecord[], name: N, pred: (r: TraceRecord<N>) => boolean = () => true): number[] {
  return records.filter((r): r is TraceRecord<N> => r.name === name && pred(r as TraceRecord<N>)).map((r) => r.ts);
}
