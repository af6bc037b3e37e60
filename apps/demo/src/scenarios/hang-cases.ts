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
 *
 * Under the reliability harness's faults both clients behave like real userspace (see
 * client-errors.ts, client-recovery.ts): a submit failing with a resource error is retried,
 * one finding its context lost re-creates it, and the hung client retries its recovery job
 * until it completes. The harness arms its faults once every case's clients exist
 * ({@link CaseEnv.ready}); `kill` destroys the healthy client's context with a job in
 * flight, `teardown` closes the healthy client's file with a job in flight (it opens a new
 * one), `device-lost` loses the NPU while its command hangs (amdxdna only: the other
 * drivers do not model it).
 */
import type { Fence } from '@dep/dma-fence';
import { ErtCmdState, getCmdState, writeCommand, type AmdxdnaDevice, type AmdxdnaFile } from '@dep/driver-amdxdna';
import { PanthorGroupState, type PanthorDevice, type PanthorFile } from '@dep/driver-panthor';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, type XeDevice, type XeExecQueue, type XeFile } from '@dep/driver-xe';
import { errnoOf, isDepError, type ErrnoName, type Runtime } from '@dep/kernel';
import { clientAction, retryDropped } from './client-errors.js';
import { createPanthorGroup, recreateNpuContext, recreatePanthorGroup, recreateXeQueue, type NpuClientState, type PanthorClientState, type XeClientState } from './client-recovery.js';
import type { FaultKind } from './index.js';
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
  /** The harness faults this case injected itself (`kill npu-ok`, …). */
  readonly injected: readonly string[];
  /** The device was lost (amdxdna under `device-lost`): no recovery is possible. */
  readonly deviceLost: boolean;
}

type Note = (text: string, kind?: string) => void;

/** What a case gets from the scenario beside its device. */
export interface CaseEnv {
  /** Called once the case's clients exist; resolves when every case got there (the harness arms its faults then). Default: at once. */
  readonly ready?: () => Promise<void>;
  /** The harness kinds the case injects itself (`kill`, `teardown`, `device-lost`). */
  readonly kinds?: readonly FaultKind[];
}

/** amdxdna refuses a submit to a dead context (device lost, failed re-creation) with EINVAL. */
const NPU_LOST: readonly ErrnoName[] = ['EINVAL'];

/** Recovery attempts of the hung client (each on a re-created context) before it gives up. */
export const RECOVERY_ATTEMPTS = 4;

/**
 * A client's submit under faults: a resource error retries it, a lost context is
 * re-created (`recreate`, itself retried on resource errors) and the submit retried; at
 * most `attempts` tries, then the last error propagates, as does any other error.
 * `extraLost`: the driver's own "context is gone" errnos (amdxdna: EINVAL for a dead context).
 */
async function submitRiding(submit: () => Promise<Fence>, recreate: () => Promise<void>, extraLost: readonly ErrnoName[] = [], attempts = 5): Promise<Fence> {
  for (let i = 1; ; i++) {
    try {
      return await submit();
    } catch (e) {
      const action = clientAction(e, extraLost);
      if (action === null || i >= attempts) throw e;
      if (action === 'lost') await retryDropped(recreate);
    }
  }
}

/**
 * The hung client's recovery: re-create its context (`recreate`; not for amdxdna, whose
 * driver re-created it), submit and wait; a job failing again (a fault of the harness on
 * the new context) re-creates and retries, {@link RECOVERY_ATTEMPTS} times at most.
 * Returns the last job's fence, signalled.
 */
async function recoverAndRun(submit: () => Promise<Fence>, recreate: () => Promise<void>, first: boolean, extraLost: readonly ErrnoName[] = []): Promise<Fence> {
  if (first) await retryDropped(recreate);
  for (let i = 1; ; i++) {
    const f = await submitRiding(submit, recreate, extraLost);
    await f.wait();
    if (f.getStatus() === 1 || i >= RECOVERY_ATTEMPTS) return f;
    f.put();
    await retryDropped(recreate);
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
 * and wait for it, until `stop()` (or `submit` returns null); then the statuses of its jobs. `inFlight`, when given,
 * runs once (on the second job) while that job is in flight: a kill or teardown.
 */
async function keepBusy(rt: Runtime, submit: (units: number) => Promise<Fence | null>, stop: () => boolean, inFlight?: () => Promise<void>): Promise<number[]> {
  const statuses: number[] = [];
  while (!stop()) {
    const next = rt.now() + BUSY_PERIOD_MS;
    // The job's size is drawn from the seed: 2…6 units. Null: the device is gone, the client stops.
    const f = await submit(2 + Math.floor(rt.random() * 5));
    if (f === null) break;
    if (inFlight !== undefined && statuses.length === 1) await inFlight();
    statuses.push(await settle(f));
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
export async function xeHangCase(rt: Runtime, xe: XeDevice, note: Note, env: CaseEnv = {}): Promise<HangCase> {
  const kinds = env.kinds ?? [];
  const newClient = async (engineClass: (typeof XeEngineClass)[keyof typeof XeEngineClass]): Promise<XeClientState> => ({ ...(await xeClient(xe, engineClass)), engineClass, vmFlags: 0 });
  const hung = await newClient(XeEngineClass.RENDER);
  let ok = await newClient(XeEngineClass.COPY);
  const qh = hung.file.execQueues.lookup(hung.execQueueId)!;
  const clients: Record<string, string> = {};
  const queues: XeExecQueue[] = [];
  const name = (c: XeClientState, client: string): void => {
    const q = c.file.execQueues.lookup(c.execQueueId)!;
    queues.push(q);
    clients[q.dep.name] = client;
    clients[`guc${q.gucId}`] = client;
  };
  name(hung, 'xe-hung');
  name(ok, 'xe-ok');
  await env.ready?.();
  const injected: string[] = [];
  const recreateOk = async (): Promise<void> => {
    await recreateXeQueue(ok);
    name(ok, 'xe-ok');
  };
  const recreateHung = async (): Promise<void> => {
    await recreateXeQueue(hung);
    name(hung, 'xe-hung');
  };
  const inFlight = inFlightFault('xe-ok', kinds, injected, note, recreateOk, async () => {
    await ok.file.close();
    ok = await newClient(XeEngineClass.COPY);
    name(ok, 'xe-ok');
  });
  let recovered = false;
  const busy = rt.spawn('xe-ok', () => keepBusy(rt, (units) => submitRiding(() => xeExec(ok.file, ok.execQueueId, units), recreateOk), () => recovered, inFlight), { joinable: true });

  xe.gpu.faults.hang({ site: `guc${qh.gucId}`, nth: 1 });
  note(`xe: ${qh.dep.name}'s next batch hangs on the render engine`, 'fault');
  const pending = [await submitRiding(() => xeExec(hung.file, hung.execQueueId, 5), recreateHung), await submitRiding(() => xeExec(hung.file, hung.execQueueId, 5), recreateHung)];
  await pending[0]!.wait();
  const hungAt = pending[0]!.timestamp();
  const hungStatuses = [];
  for (const f of pending) hungStatuses.push(await settle(f));
  note(`xe: TDR — ${qh.dep.name} banned (head ${hungStatuses[0]}, behind it ${hungStatuses[1]})`, 'timeout');
  const submitAfterHang = await errnoOf(hung.file.exec({ execQueueId: hung.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }));
  const again = await recoverAndRun(() => xeExec(hung.file, hung.execQueueId, 5), recreateHung, true);
  const recoveredAt = again.timestamp();
  const recoveryStatus = await settle(again);
  note(`xe: new exec queue ${hung.file.execQueues.lookup(hung.execQueueId)!.dep.name}: its job completed (${recoveryStatus})`, 'event');
  recovered = true;
  const okStatuses = await busy.join();
  await hung.file.close();
  await ok.file.close();
  for (const q of queues) await q.dep.waitReleased();
  return { driver: 'xe', clients, hungClient: 'xe-hung', okClient: 'xe-ok', hungStatuses, submitAfterHang, recoveryStatus, okStatuses, hungAt, recoveredAt, action: 'exec queue banned by the TDR, re-created by the client', injected, deviceLost: false };
}

/**
 * The healthy client's in-flight fault (see {@link keepBusy}): `kill` runs `kill` (its
 * context destroyed and re-created), `teardown` runs `teardown` (its file closed and a new
 * client opened); undefined when neither is asked for.
 */
function inFlightFault(client: string, kinds: readonly FaultKind[], injected: string[], note: Note, kill: () => Promise<void>, teardown: () => Promise<void>): (() => Promise<void>) | undefined {
  if (!kinds.includes('kill') && !kinds.includes('teardown')) return undefined;
  return async () => {
    if (kinds.includes('kill')) {
      injected.push(`kill ${client}`);
      note(`fault: ${client}'s context destroyed with a job in flight (kill); the client re-creates it`, 'fault');
      await retryDropped(kill);
    }
    if (kinds.includes('teardown')) {
      injected.push(`teardown ${client}`);
      note(`fault: ${client} closes its file with a job in flight (teardown) and opens a new one`, 'fault');
      await teardown();
    }
  };
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
export async function panthorHangCase(rt: Runtime, panthor: PanthorDevice, note: Note, env: CaseEnv = {}): Promise<HangCase & { readonly states: { readonly hung: string; readonly ok: string } }> {
  const kinds = env.kinds ?? [];
  const newClient = async (): Promise<PanthorClientState> => {
    const c = await panthorClient(panthor);
    return { ...c, groupHandle: await createPanthorGroup(c.file, c.vmId) };
  };
  const hung = await newClient();
  let ok = await newClient();
  const gh = hung.groupHandle;
  const go = ok.groupHandle;
  const groupH = hung.file.groups.lookup(gh)!;
  const clients: Record<string, string> = {};
  const name = (c: PanthorClientState, client: string): void => {
    clients[c.file.groups.lookup(c.groupHandle)!.queues[0]!.dq.name] = client;
  };
  name(hung, 'panthor-hung');
  name(ok, 'panthor-ok');
  await env.ready?.();
  const injected: string[] = [];
  const recreateOk = async (): Promise<void> => {
    await recreatePanthorGroup(ok);
    name(ok, 'panthor-ok');
  };
  const recreateHung = async (): Promise<void> => {
    await recreatePanthorGroup(hung);
    name(hung, 'panthor-hung');
  };
  const inFlight = inFlightFault('panthor-ok', kinds, injected, note, recreateOk, async () => {
    await ok.file.close();
    ok = await newClient();
    name(ok, 'panthor-ok');
  });
  let recovered = false;
  const busy = rt.spawn('panthor-ok', () => keepBusy(rt, (units) => submitRiding(() => panthorSubmit(ok.file, ok.groupHandle, units), recreateOk), () => recovered, inFlight), { joinable: true });

  panthor.gpu.faults.hang({ site: `${groupH.hwName}.q0`, nth: 1 });
  note(`panthor: ${groupH.hwName}.q0's next stream hangs`, 'fault');
  const pending = [await submitRiding(() => panthorSubmit(hung.file, hung.groupHandle, 5), recreateHung), await submitRiding(() => panthorSubmit(hung.file, hung.groupHandle, 5), recreateHung)];
  await pending[0]!.wait();
  const hungAt = pending[0]!.timestamp();
  const hungStatuses = [];
  for (const f of pending) hungStatuses.push(await settle(f));
  const stateOf = async (c: PanthorClientState, handle: number): Promise<string> => {
    try {
      return groupStateName((await c.file.groupGetState({ groupHandle: handle })).state);
    } catch (e) {
      // The group is gone (re-created after a fault of the harness) or the query failed to allocate.
      if (clientAction(e, ['EINVAL', 'ENOENT']) === null) throw e;
      return 'unknown';
    }
  };
  const states = { hung: await stateOf(hung, hung.groupHandle), ok: await stateOf(ok, go) };
  note(`panthor: progress timeout — group ${groupH.hwName} terminated, state ${states.hung}; the other group's state: ${states.ok}`, 'timeout');
  const submitAfterHang = await errnoOf(hung.file.groupSubmit({ groupHandle: hung.groupHandle, queueSubmits: [panthorQueueSubmit(0, 1)] }));
  const again = await recoverAndRun(() => panthorSubmit(hung.file, hung.groupHandle, 5), recreateHung, true);
  const recoveredAt = again.timestamp();
  const recoveryStatus = await settle(again);
  note(`panthor: new group: its job completed (${recoveryStatus})`, 'event');
  recovered = true;
  const okStatuses = await busy.join();
  await hung.file.close();
  await ok.file.close();
  return { driver: 'panthor', clients, hungClient: 'panthor-hung', okClient: 'panthor-ok', hungStatuses, submitAfterHang, recoveryStatus, okStatuses, hungAt, recoveredAt, action: `group terminated by the progress timeout (state ${states.hung}), re-created by the client`, states, injected, deviceLost: false };
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
export async function amdxdnaHangCase(rt: Runtime, dev: AmdxdnaDevice, note: Note, env: CaseEnv = {}): Promise<HangCase & { readonly resets: number; readonly cmdStates: readonly string[] }> {
  const kinds = env.kinds ?? [];
  const hung: NpuClientState = await npuClient(dev);
  let ok: NpuClientState = await npuClient(dev);
  const hw = hung.file.hwctxs.lookup(hung.hwctx)!;
  const clients: Record<string, string> = {};
  const name = (c: NpuClientState, client: string): void => {
    clients[c.file.hwctxs.lookup(c.hwctx)!.queue.name] = client;
  };
  name(hung, 'npu-hung');
  name(ok, 'npu-ok');
  let okCmd = await npuCommand(ok.file, 1);
  const cmds = [await npuCommand(hung.file, 1), await npuCommand(hung.file, 1)];
  await env.ready?.();
  const injected: string[] = [];
  let deviceLost = false;
  const recreateOk = async (): Promise<void> => {
    await recreateNpuContext(ok);
    name(ok, 'npu-ok');
  };
  const recreateHung = async (): Promise<void> => {
    await recreateNpuContext(hung);
    name(hung, 'npu-hung');
  };
  const inFlight = inFlightFault('npu-ok', kinds, injected, note, recreateOk, async () => {
    await ok.file.close();
    ok = await npuClient(dev);
    okCmd = await npuCommand(ok.file, 1);
    name(ok, 'npu-ok');
  });
  let recovered = false;
  const okSubmit = async (units: number): Promise<Fence | null> => {
    try {
      return await submitRiding(() => npuSubmit(ok.file, ok.hwctx, okCmd, units), recreateOk, NPU_LOST);
    } catch (e) {
      if (!isDepError(e, 'ENODEV')) throw e;
      return null; // the device is lost: no context can be made any more
    }
  };
  const busy = rt.spawn('npu-ok', () => keepBusy(rt, okSubmit, () => recovered, inFlight), { joinable: true });

  dev.npu.faults.hang({ site: hw.name, nth: 1 });
  note(`amdxdna: ${hw.name}'s next command hangs`, 'fault');
  const pending = [await submitRiding(() => npuSubmit(hung.file, hung.hwctx, cmds[0]!, 5), recreateHung, NPU_LOST), await submitRiding(() => npuSubmit(hung.file, hung.hwctx, cmds[1]!, 5), recreateHung, NPU_LOST)];
  if (kinds.includes('device-lost')) {
    injected.push('device-lost npu');
    note('fault: the NPU is lost with the hung command in flight (device lost)', 'fault');
    dev.npu.lose('harness: device lost');
  }
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
  let recoveryStatus: number;
  let recoveredAt: number;
  try {
    const again = await recoverAndRun(() => npuSubmit(hung.file, hung.hwctx, cmds[0]!, 5), recreateHung, false, NPU_LOST);
    recoveredAt = again.timestamp();
    recoveryStatus = await settle(again);
    note(`amdxdna: the re-created context ran the next command (${recoveryStatus})`, 'event');
  } catch (e) {
    if (!isDepError(e, 'ENODEV')) throw e;
    deviceLost = true;
    recoveryStatus = -19;
    recoveredAt = rt.now();
    note('amdxdna: the device is lost: no new context (ENODEV); the client gives up on the NPU', 'fault');
  }
  recovered = true;
  const okStatuses = await busy.join();
  const resets = hw.stats.resets;
  await hung.file.close();
  await ok.file.close();
  return { driver: 'amdxdna', clients, hungClient: 'npu-hung', okClient: 'npu-ok', hungStatuses, submitAfterHang: null, recoveryStatus, okStatuses, hungAt, recoveredAt, action: deviceLost ? 'device lost: the commands aborted (ENODEV), no context re-created' : `context destroyed and re-created by the 60 s timeout (${resets} reset)`, resets, cmdStates, injected, deviceLost };
}
