/**
 * The load the checks put on an adapter: clients with queues, one submitter task per
 * queue, random job sizes and gaps drawn from the runtime's seeded PRNG.
 */
import type { Fence } from '@dep/dma-fence';
import { isDepError } from '@dep/kernel';
import type { ConformanceClient, ConformanceQueue } from './adapter.js';
import type { Session } from './session.js';

/** A queue under load and the fences its jobs published, in submission order. */
export interface LoadedQueue {
  readonly client: ConformanceClient;
  readonly queue: ConformanceQueue;
  readonly fences: Fence[];
  /** Submits refused with a `DepError` (the queue was killed, the file closed …): errno names. */
  readonly refused: string[];
}

/** Open `clients` clients with `queues` queues each. */
export async function openQueues(s: Session, clients: number, queues: number): Promise<LoadedQueue[]> {
  const out: LoadedQueue[] = [];
  for (let c = 0; c < clients; c++) {
    const client = await s.open();
    for (let q = 0; q < queues; q++) out.push({ client, queue: await client.createQueue(), fences: [], refused: [] });
  }
  return out;
}

/** Options of {@link submitLoad}. */
export interface LoadOptions {
  /** Jobs per queue. */
  readonly jobs: number;
  /** Largest job size (units); sizes are 1…maxUnits. Default 8. */
  readonly maxUnits?: number;
  /** Largest pause between submits (ms, virtual). Default 2. */
  readonly maxGapMs?: number;
  /**
   * Stop a queue's submitter at its first `DepError` (a killed queue, a closed file) instead
   * of failing: the errno is recorded in {@link LoadedQueue.refused}. Default false.
   */
  readonly tolerateRefusal?: boolean;
}

/**
 * Submit `jobs` 'ok' jobs on every queue, one task per queue, concurrently. Resolves when
 * every submitter finished (the jobs may still run). A submit error fails the load unless
 * `tolerateRefusal`.
 */
export async function submitLoad(s: Session, queues: readonly LoadedQueue[], options: LoadOptions): Promise<void> {
  const { rt } = s;
  const maxUnits = options.maxUnits ?? 8;
  const maxGap = options.maxGapMs ?? 2;
  const tasks = queues.map((lq, i) =>
    rt.spawn(
      `conformance.submit${i}`,
      async () => {
        for (let n = 0; n < options.jobs; n++) {
          try {
            lq.fences.push(await s.submit(lq.queue, { units: 1 + rt.randomInt(maxUnits) }));
          } catch (e) {
            if (options.tolerateRefusal === true && isDepError(e)) {
              lq.refused.push(e.code);
              return;
            }
            throw e;
          }
          const gap = rt.randomInt(maxGap + 1);
          if (gap > 0) await rt.sleep(gap);
        }
      },
      { joinable: true },
    ),
  );
  for (const t of tasks) await t.join();
}

/** Start {@link submitLoad} in the background; the returned function waits for it. */
export function startLoad(s: Session, queues: readonly LoadedQueue[], options: LoadOptions): () => Promise<void> {
  const task = s.rt.spawn('conformance.load', () => submitLoad(s, queues, options), { joinable: true });
  return () => task.join();
}
