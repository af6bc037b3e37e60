/** An `explore` worker: runs the seeds the parent sends, answers with their outcomes. */
import { parentPort, workerData } from 'node:worker_threads';
import pc from 'picocolors';
import type { FromWorker, SeedOutcome, ToWorker } from './explore.js';
import type { Scenario } from './scenarios/index.js';

interface Data {
  readonly registry?: string;
  readonly scenario: string;
  readonly params: Readonly<Record<string, string>>;
  readonly chaos?: boolean;
  readonly faults: boolean;
}

const data = workerData as Data;
const port = parentPort!;
const registry = (await import(data.registry ?? new URL('./scenarios/index.ts', import.meta.url).href)) as { scenarios: readonly Scenario[] };
const scenario = registry.scenarios.find((s) => s.name === data.scenario);
const colors = pc.createColors(false);

async function runSeed(seed: number): Promise<SeedOutcome> {
  if (scenario === undefined) return { seed, ok: false, outcome: 'error', detail: `unknown scenario "${data.scenario}"`, hash: '', reports: 0 };
  try {
    const result = await scenario.run({
      seed,
      log: () => undefined,
      colors,
      params: data.params,
      ...(data.chaos === undefined ? {} : { chaos: data.chaos }),
      faults: data.faults,
    });
    if (!result) return { seed, ok: true, outcome: 'completed', detail: 'the scenario returned no result', hash: '', reports: 0 };
    return { seed, ok: result.verdict.ok, outcome: result.verdict.outcome, detail: result.verdict.detail, hash: result.traceHash, reports: result.reports.length };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { seed, ok: false, outcome: 'error', detail: msg.split('\n')[0]!, hash: '', reports: 0 };
  }
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'exit') {
    port.close();
    return;
  }
  void runSeed(m.seed).then((result) => port.postMessage({ type: 'done', result } satisfies FromWorker));
});
port.postMessage({ type: 'ready' } satisfies FromWorker);
