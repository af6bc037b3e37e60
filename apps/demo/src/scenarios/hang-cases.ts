/**
 * One hung context per driver, and what each driver does about it (the `hang-recovery`
 * scenario runs one case per driver, all on one runtime):
 *
 * - **xe**: a render batch hangs; the job timeout (TDR) samples the GuC running time,
 *   finds a real hang and bans the exec queue (head job -ETIME, the rest -ECANCELED, the
 *   next exec ECANCELED); the client destroys the queue and creates a new one.
 * - **panthor**: a queue hangs; the driver's progress timeout (resident time only) finds no
 *   progress and terminates the group (in-flight jobs -ETIMEDOUT, the state query says
 *   TIMEDOUT; another client's group says nothing); the client creates a new group.
 * - **amdxdna**: a command hangs; at the 60 s job timeout the driver destroys the firmware
 *   context and re-creates it (commands in the mailbox are aborted), and the same context
 *   takes the client's next command.
 *
 * In each case a second client on the same device keeps submitting (one job per period,
 * waiting for each) until the hung client recovered, and every one of its jobs completes.
 */
import type { Fence } from '@dep/dma-fence';
import { ErtCmdState, getCmdState, writeCommand, type AmdxdnaDevice, type AmdxdnaFile } from '@dep/driver-amdxdna';
import { PanthorGroupState, type PanthorDevice, type PanthorFile } from '@dep/driver-panthor';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, type XeDevice, type XeFile } from '@dep/driver-xe';
import { isDepError, type ErrnoName, type Runtime } from '@dep/kernel';
import { BO_VA, npuClient, npuCommand, panthorClient, panthorQueueSubmit, panthorSignal, xeClient, type DriverName } from './three-drivers.js';

/** How often the healthy client submits (ms of virtual time). */
export const BUSY_PERIOD_MS = 250;

/** What one driver's case did. */
export interface HangCase {
  readonly driver: DriverName;
  /** Queue (and hardware context) name → client, for the summary and the timeline. */
  readonly clients: Readonly<Record<string, string>>;
  /** The hung client's name and the healthy one's. */
  readonly hungClient: string;
  readonly okClient: string;
  /** Statuses of the hung client's jobs submitted before the recovery (the hung one first). */
  readonly hungStatuses: readonly number[];
  /** What a submit to the hung context returned right after the hang (an errno, or null: accepted). */
  readonly submitAfterHang: ErrnoName | null;
  /** Status of the hung client's job after the recovery (on the new queue / group / context). */
  readonly recoveryStatus: number;
  /** Statuses of every job of the healthy client. */
  readonly okStatuses: readonly number[];
  /** When the hung job's fence signalled (its error), and when the recovery job completed (ms). */
  readonly hungAt: number;
  readonly recoveredAt: number;
  /** What the driver did, in a few words (`queue banned by the TDR`, …). */
  readonly action: string;
}

type Note = (text: string, kind?: string) => void;

/** The errno a call failed with, or null when it succeeded. */
async function errnoOf(p: Promise<unknown>): Promise<ErrnoName | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (isDepError(e)) return e.code;
    throw e;
  }
}

/** Wait for a fence and return its status; drops the reference. */
async function settle(f: Fence): Promise<number> {
  await f.wait();
  const status = f.getStatus();
  f.put();
  return status;
}

/** The fence a binary syncobj holds (a reference), after a submit signalled it. */
function syncobjFence(file: XeFile | PanthorFile, handle: number): Fence {
  const f = file.syncobjs.lookup(handle)?.fenceGet() ?? null;
  if (f === null) throw new Error(`syncobj ${handle} has no fence after the submit that signals it`);
  return f;
}

/**
 * The healthy client: `submit(units)` (returning the job's fence) once per {@link BUSY_PERIOD_MS}
 * and wait for it, until `stop()`; then the statuses of its jobs.
 */
async function keepBusy(rt: Runtime, submit: (units: number) => Promise<Fence>, stop: () => boolean): Promise<number[]> {
  const statuses: number[] = [];
  while (!stop()) {
    const next = rt.now() + BUSY_PERIOD_MS;
    // The job's size is drawn from the seed: 2…6 units.
    statuses.push(await settle(await submit(2 + Math.floor(rt.random() * 5))));
    if (rt.now() < next) await rt.sleep(next - rt.now());
  }
  return statuses;
}

// --- xe ------------------------------------------------------------------------------------

async function xeExec(file: XeFile, execQueueId: number, units: number): Promise<Fence> {
  const { handle } = await file.syncobjCreate();
  await file.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle }] });
  const f = syncobjFence(file, handle);
  await file.syncobjDestroy({ handle });
  return f;
}

/** xe: the TDR bans the hung exec queue; the client makes a new one. */
export async function xeHangCase(rt: Runtime, xe: XeDevice, note: Note): Promise<HangCase> {
  const hung = await xeClient(xe, XeEngineClass.RENDER);
  const ok = await xeClient(xe, XeEngineClass.COPY);
  const qh = hung.file.execQueues.lookup(hung.execQueueId)!;
  const qo = ok.file.execQueues.lookup(ok.execQueueId)!;
  const clients: Record<string, string> = { [qh.dep.name]: 'xe-hung', [`guc${qh.gucId}`]: 'xe-hung', [qo.dep.name]: 'xe-ok', [`guc${qo.gucId}`]: 'xe-ok' };
  let recovered = false;
  const busy = rt.spawn('xe-ok', () => keepBusy(rt, (units) => xeExec(ok.file, ok.execQueueId, units), () => recovered), { joinable: true });

  xe.gpu.faults.hang({ site: `guc${qh.gucId}`, nth: 1 });
  note(`xe: ${qh.dep.name}'s next batch hangs on the render engine`, 'fault');
  const pending = [await xeExec(hung.file, hung.execQueueId, 5), await xeExec(hung.file, hung.execQueueId, 5)];
  await pending[0]!.wait();
  const hungAt = pending[0]!.timestamp();
  const hungStatuses = [];
  for (const f of pending) hungStatuses.push(await settle(f));
  note(`xe: TDR — ${qh.dep.name} banned (head ${hungStatuses[0]}, behind it ${hungStatuses[1]})`, 'timeout');
  const submitAfterHang = await errnoOf(hung.file.exec({ execQueueId: hung.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }));
  await hung.file.execQueueDestroy({ execQueueId: hung.execQueueId });
  const { execQueueId } = await hung.file.execQueueCreate({ vmId: hung.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
  const q2 = hung.file.execQueues.lookup(execQueueId)!;
  clients[q2.dep.name] = 'xe-hung';
  clients[`guc${q2.gucId}`] = 'xe-hung';
  const again = await xeExec(hung.file, execQueueId, 5);
  await again.wait();
  const recoveredAt = again.timestamp();
  const recoveryStatus = await settle(again);
  note(`xe: new exec queue ${q2.dep.name}: its job completed (${recoveryStatus})`, 'event');
  recovered = true;
  const okStatuses = await busy.join();
  await hung.file.close();
  await ok.file.close();
  await q2.dep.waitReleased();
  await qh.dep.waitReleased();
  await qo.dep.waitReleased();
  return { driver: 'xe', clients, hungClient: 'xe-hung', okClient: 'xe-ok', hungStatuses, submitAfterHang, recoveryStatus, okStatuses, hungAt, recoveredAt, action: 'exec queue banned by the TDR, re-created by the client' };
}

// --- panthor -------------------------------------------------------------------------------

async function panthorSubmit(file: PanthorFile, groupHandle: number, ms: number): Promise<Fence> {
  const { handle } = await file.syncobjCreate();
  await file.groupSubmit({ groupHandle, queueSubmits: [panthorQueueSubmit(0, ms, [panthorSignal(handle)])] });
  const f = syncobjFence(file, handle);
  await file.syncobjDestroy({ handle });
  return f;
}

const groupStateName = (state: number): string =>
  [
    [PanthorGroupState.TIMEDOUT, 'TIMEDOUT'],
    [PanthorGroupState.FATAL_FAULT, 'FATAL_FAULT'],
    [PanthorGroupState.INNOCENT, 'INNOCENT'],
  ]
    .filter(([bit]) => (state & (bit as number)) !== 0)
    .map(([, name]) => name)
    .join('|') || 'ok';

/** panthor: the progress timeout terminates the hung group (TIMEDOUT); the client makes a new one. */
export async function panthorHangCase(rt: Runtime, panthor: PanthorDevice, note: Note): Promise<HangCase & { readonly states: { readonly hung: string; readonly ok: string } }> {
  const hung = await panthorClient(panthor);
  const ok = await panthorClient(panthor);
  const newGroup = async (c: { file: PanthorFile; vmId: number }) => (await c.file.groupCreate({ vmId: c.vmId, priority: 0, queues: [{ priority: 0, pad: 0, ringbufSize: 4096 }] })).groupHandle;
  const gh = await newGroup(hung);
  const go = await newGroup(ok);
  const groupH = hung.file.groups.lookup(gh)!;
  const groupO = ok.file.groups.lookup(go)!;
  const clients: Record<string, string> = { [groupH.queues[0]!.dq.name]: 'panthor-hung', [groupO.queues[0]!.dq.name]: 'panthor-ok' };
  let recovered = false;
  const busy = rt.spawn('panthor-ok', () => keepBusy(rt, (units) => panthorSubmit(ok.file, go, units), () => recovered), { joinable: true });

  panthor.gpu.faults.hang({ site: `${groupH.hwName}.q0`, nth: 1 });
  note(`panthor: ${groupH.hwName}.q0's next stream hangs`, 'fault');
  const pending = [await panthorSubmit(hung.file, gh, 5), await panthorSubmit(hung.file, gh, 5)];
  await pending[0]!.wait();
  const hungAt = pending[0]!.timestamp();
  const hungStatuses = [];
  for (const f of pending) hungStatuses.push(await settle(f));
  const states = {
    hung: groupStateName((await hung.file.groupGetState({ groupHandle: gh })).state),
    ok: groupStateName((await ok.file.groupGetState({ groupHandle: go })).state),
  };
  note(`panthor: progress timeout — group ${groupH.hwName} terminated, state ${states.hung}; the other group's state: ${states.ok}`, 'timeout');
  const submitAfterHang = await errnoOf(hung.file.groupSubmit({ groupHandle: gh, queueSubmits: [panthorQueueSubmit(0, 1)] }));
  await hung.file.groupDestroy({ groupHandle: gh });
  const gh2 = await newGroup(hung);
  clients[hung.file.groups.lookup(gh2)!.queues[0]!.dq.name] = 'panthor-hung';
  const again = await panthorSubmit(hung.file, gh2, 5);
  await again.wait();
  const recoveredAt = again.timestamp();
  const recoveryStatus = await settle(again);
  note(`panthor: new group: its job completed (${recoveryStatus})`, 'event');
  recovered = true;
  const okStatuses = await busy.join();
  await hung.file.close();
  await ok.file.close();
  return { driver: 'panthor', clients, hungClient: 'panthor-hung', okClient: 'panthor-ok', hungStatuses, submitAfterHang, recoveryStatus, okStatuses, hungAt, recoveredAt, action: `group terminated by the progress timeout (state ${states.hung}), re-created by the client`, states };
}

// --- amdxdna -------------------------------------------------------------------------------

async function npuSubmit(file: AmdxdnaFile, hwctx: number, cmd: number, units: number): Promise<Fence> {
  const obj = file.gemLookup(cmd)!;
  writeCommand(obj, { units });
  obj.put();
  const { seq } = await file.execCmd({ hwctx, cmdHandles: cmd, cmdCount: 1 });
  const f = file.hwctxs.lookup(hwctx)!.outFence(seq);
  if (f === null) throw new Error(`amdxdna: no out-fence for seq ${seq} right after its submit`);
  return f;
}

/** amdxdna: the 60 s timeout destroys and re-creates the firmware context; the same context runs on. */
export async function amdxdnaHangCase(rt: Runtime, dev: AmdxdnaDevice, note: Note): Promise<HangCase & { readonly resets: number; readonly cmdStates: readonly string[] }> {
  const hung = await npuClient(dev);
  const ok = await npuClient(dev);
  const hw = hung.file.hwctxs.lookup(hung.hwctx)!;
  const hwOk = ok.file.hwctxs.lookup(ok.hwctx)!;
  const clients: Record<string, string> = { [hw.queue.name]: 'npu-hung', [hwOk.queue.name]: 'npu-ok' };
  let recovered = false;
  const okCmd = await npuCommand(ok.file, 1);
  const busy = rt.spawn('npu-ok', () => keepBusy(rt, (units) => npuSubmit(ok.file, ok.hwctx, okCmd, units), () => recovered), { joinable: true });

  dev.npu.faults.hang({ site: hw.name, nth: 1 });
  note(`amdxdna: ${hw.name}'s next command hangs`, 'fault');
  const cmds = [await npuCommand(hung.file, 1), await npuCommand(hung.file, 1)];
  const pending = [await npuSubmit(hung.file, hung.hwctx, cmds[0]!, 5), await npuSubmit(hung.file, hung.hwctx, cmds[1]!, 5)];
  await pending[0]!.wait();
  const hungAt = pending[0]!.timestamp();
  const hungStatuses = [];
  for (const f of pending) hungStatuses.push(await settle(f));
  const stateName = (h: number): string => {
    const obj = hung.file.gemLookup(h)!;
    const s = getCmdState(obj);
    obj.put();
    return Object.entries(ErtCmdState).find(([, v]) => v === s)?.[0] ?? String(s);
  };
  const cmdStates = cmds.map(stateName);
  note(`amdxdna: 60 s timeout — context ${hw.name} destroyed and re-created (commands: ${cmdStates.join(', ')})`, 'timeout');
  const again = await npuSubmit(hung.file, hung.hwctx, cmds[0]!, 5);
  await again.wait();
  const recoveredAt = again.timestamp();
  const recoveryStatus = await settle(again);
  note(`amdxdna: the re-created context ran the next command (${recoveryStatus})`, 'event');
  recovered = true;
  const okStatuses = await busy.join();
  const resets = hw.stats.resets;
  await hung.file.close();
  await ok.file.close();
  return { driver: 'amdxdna', clients, hungClient: 'npu-hung', okClient: 'npu-ok', hungStatuses, submitAfterHang: null, recoveryStatus, okStatuses, hungAt, recoveredAt, action: `context destroyed and re-created by the 60 s timeout (${resets} reset)`, resets, cmdStates };
}
