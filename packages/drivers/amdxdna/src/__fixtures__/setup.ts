import { Runtime } from '@dep/kernel';
import type { AieConfig } from '@dep/hw-sim';
import { AmdxdnaDevice } from '../device.js';
import type { AmdxdnaFile } from '../file.js';
import { writeCommand } from '../hwctx.js';
import { AmdxdnaBoType } from '../uapi.js';

export function setup(options: { seed?: number; npu?: AieConfig; timeoutMs?: number } = {}): { rt: Runtime; dev: AmdxdnaDevice } {
  const rt = new Runtime({ seed: options.seed ?? 1, checks: 'strict' });
  const dev = new AmdxdnaDevice({ runtime: rt, npuConfig: options.npu ?? { columns: 4 }, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  return { rt, dev };
}

/** A client with a heap and a hardware context of `cols` columns. */
export async function client(dev: AmdxdnaDevice, cols = 1): Promise<{ f: AmdxdnaFile; ctx: number; syncobj: number }> {
  const f = dev.open();
  await f.createBo({ size: 65536n, type: AmdxdnaBoType.DEV_HEAP });
  const { handle, syncobjHandle } = await f.createHwctx({ numTiles: 4 * cols });
  const { handle: cu } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
  await f.configHwctx({ handle, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] });
  return { f, ctx: handle, syncobj: syncobjHandle };
}

/** A command BO holding one ERT_START_CU command of `units`. */
export async function cmdBo(f: AmdxdnaFile, units: number, opcode?: number): Promise<number> {
  const { handle } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.CMD });
  writeCommand(f.gem.lookup(handle)!, { units, ...(opcode === undefined ? {} : { opcode }) });
  return handle;
}

export { errnoOf } from '@dep/kernel';

/** Reports other than plain WARNs at shutdown (leaks, use-after-free, lockdep …). */
export function shutdownReports(rt: Runtime): string[] {
  return rt.shutdown().map((r) => `${r.kind}: ${r.message}`);
}
