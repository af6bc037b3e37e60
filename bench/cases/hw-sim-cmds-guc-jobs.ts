// Group "hw-sim-cmds": simulated ring commands on a GuC-like device. One op: one command
// written into a context's ring and executed — jobs of [batch, seqnoWrite, interrupt], so
// per job one batch-completion event and one interrupt delivered to a handler. The whole
// ring is written up front and submitted once (one H2G). Checks off, no tracing.
import { Runtime } from '@dep/kernel';
import { createCommandRing, createGucDevice, type Command } from '@dep/hw-sim';
import { defineCase } from '../case.js';

export default defineCase({
  name: 'guc-jobs',
  group: 'hw-sim-cmds',
  ops: 30_000,
  async batch(n) {
    const rt = new Runtime({ checks: 'off' });
    const dev = createGucDevice(rt, { engines: { render: 1 }, h2gLatencyMs: 0 });
    let irqs = 0;
    dev.requestIrq(() => {
      irqs++;
    });
    const seq = dev.memory.allocNow('system', 4096);
    const ring = createCommandRing(1 << 17);
    const cmds: Command[] = [];
    for (let i = 0; cmds.length < n; i++) {
      cmds.push({ op: 'batch', units: 0.001 });
      if (cmds.length < n) cmds.push({ op: 'seqnoWrite', addr: seq.addr, value: BigInt(i) });
      if (cmds.length < n) cmds.push({ op: 'interrupt', data: i });
    }
    ring.write(cmds);
    dev.fw.registerContext({ id: 1, engineClass: 'render', ring, timesliceMs: Infinity });
    dev.fw.enableScheduling(1);
    await rt.runUntilIdle();
    return irqs > 0 ? dev.stats.commands : -1;
  },
});
