// Group "hw-sim-cmds": the worst case for the device — every command is a batch, so one
// executor event per command plus the streamer's bookkeeping (cost model, engine
// accounting). One op: one batch written, run and completed. Checks off, no tracing.
import { Runtime } from '@dep/kernel';
import { createCommandRing, createGucDevice, type Command } from '@dep/hw-sim';
import { defineCase } from '../case.js';

export default defineCase({
  name: 'guc-batches',
  group: 'hw-sim-cmds',
  ops: 30_000,
  async batch(n) {
    const rt = new Runtime({ checks: 'off' });
    const dev = createGucDevice(rt, { engines: { render: 1 }, h2gLatencyMs: 0 });
    const ring = createCommandRing(1 << 17);
    const cmds: Command[] = [];
    for (let i = 0; i < n; i++) cmds.push({ op: 'batch', units: 0.001 });
    ring.write(cmds);
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring, timesliceMs: Infinity });
    dev.fw.enableScheduling(1);
    await rt.runUntilIdle();
    return dev.stats.batches;
  },
});
