/** An `explore` worker: runs the units the parent sends, answers with the outcome of every run. */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './explore.js';
import { conformanceDriver, runConformanceUnit } from './explore-conformance.js';
import { runUnit, type ExploreJob, type RunOutcome } from './explore-run.js';
import type { Scenario } from './scenarios/index.js';

interface Data {
  readonly registry?: string;
}

const data = workerData as Data;
const port = parentPort!;
const registry = (await import(data.registry ?? new URL('./scenarios/index.ts', import.meta.url).href)) as { scenarios: readonly Scenario[] };

async function run(job: ExploreJob): Promise<readonly RunOutcome[]> {
  const driver = conformanceDriver(job.scenario);
  if (driver !== null) return runConformanceUnit(driver, job);
  const scenario = registry.scenarios.find((s) => s.name === job.scenario);
  if (scenario === undefined) {
    return [{ ...job, faults: { type: 'none' }, ok: false, outcome: 'error', detail: `unknown scenario "${job.scenario}"`, hash: '', reports: 0, violations: [], events: 0, virtualMs: 0, injected: 0, armed: 0, rechecked: false }];
  }
  return runUnit(scenario, job);
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'exit') {
    port.close();
    return;
  }
  void run(m.job).then((outcomes) => port.postMessage({ type: 'done', id: m.id, outcomes } satisfies FromWorker));
});
port.postMessage({ type: 'ready' } satisfies FromWorker);
