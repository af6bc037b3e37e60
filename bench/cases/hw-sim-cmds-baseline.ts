// Group "hw-sim-cmds", baseline: bare executor callback events. One op: one event of a
// chain on the kernel's virtual executor (each event schedules the next 1 ms later), the
// way a batch completing starts the next one — what a simulated command would cost if the
// device did nothing but schedule. Checks off.
import { Runtime } from '@dep/kernel';
import { defineCase } from '../case.js';

interface Chain {
  rt: Runtime;
  left: number;
  ran: number;
}

function step(arg: unknown): void {
  const c = arg as Chain;
  c.ran++;
  if (--c.left > 0) c.rt.executor.schedule(1, c.rt.irqFrame, step, c, false);
}

export default defineCase({
  name: 'executor-events',
  group: 'hw-sim-cmds',
  baseline: true,
  ops: 30_000,
  async batch(n) {
    const rt = new Runtime({ checks: 'off' });
    const chain: Chain = { rt, left: n, ran: 0 };
    rt.executor.schedule(1, rt.irqFrame, step, chain, false);
    await rt.runUntilIdle();
    return chain.ran;
  },
});
