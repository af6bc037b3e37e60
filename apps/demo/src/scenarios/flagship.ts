/**
 * `flagship` (the default scenario): all three driver adapters on one runtime, every layer
 * used through the clients' ioctl-shaped file methods, for several frames.
 *
 * - **npu** (amdxdna): an inference per frame writes one of two output buffers
 *   (double-buffered), exported with PRIME; its out-fence goes into the buffer's resv
 *   (WRITE).
 * - **render** (panthor) imports the buffers and renders from them through implicit sync
 *   the way Mesa does it on an explicit-sync driver: `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` for
 *   READ (`dmaBufFd.exportSyncFile`: the resv's WRITE fences, the NPU job), imported into
 *   an in-syncobj (`SYNCOBJ_FD_TO_HANDLE` with IMPORT_SYNC_FILE), a group
 *   submit waiting on it; its render-done syncobj is exported as a sync_file.
 * - **compute** (xe, a long-running VM): a compute job per frame writes a user fence
 *   (value = frame); the user-fence convert ioctl exports "value ≥ frame" into a syncobj
 *   shared with the compositor by syncobj fd.
 * - **compositor** (xe, another DrmFile, dma-fence mode, copy engine): per frame a blit
 *   waiting on the render's sync_file and the compute's exported user fence, signalling
 *   the frame's present syncobj.
 * - **memory pressure**: during frame 2 the compositor allocates a VRAM scanout buffer
 *   that does not fit; the TTM-style evictor picks the compute VM's activations BO, waits
 *   for its resv — xe's preempt fence fires, the LR queue is suspended — moves it, and
 *   xe's rebind worker resumes the queue.
 */
import { DRM_TIMEOUT_INFINITE, DmaBufSyncFlags, GemCreateFlags, SyncobjFdToHandleFlags, SyncobjHandleToFdFlags } from '@dep/drm';
import { AmdxdnaBoType, writeCommand } from '@dep/driver-amdxdna';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmCreateFlags, type XeExecQueue, type XeVm } from '@dep/driver-xe';
import { isDepError, type Report, type TraceRecord } from '@dep/kernel';
import { judge, makeResult, newSim, queueStats, runMain } from '../result.js';
import '../trace-events.js';
import { clientAction, errnoName, retryDropped } from './client-errors.js';
import { createPanthorGroup, recreateNpuContext, recreatePanthorGroup, recreateXeQueue, type NpuClientState, type PanthorClientState, type XeClientState } from './client-recovery.js';
import type { FaultKind, RunTrace, Scenario, ScenarioOptions, ScenarioResult } from './index.js';
import { BO_VA, createDevices, finiDevices, npuClient, npuCommand, panthorClient, panthorQueueSubmit, panthorSignal, panthorWait, xeClient } from './three-drivers.js';
import { VramEvictor, type Eviction } from './vram-evictor.js';

/** Frames the default run renders. */
export const FLAGSHIP_FRAMES = 4;
/** How far into that frame (ms) the compositor's allocation comes: the frame's compute job is running then. */
export const PRESSURE_DELAY_MS = 3;
/** The frame during which the compositor's allocation makes memory pressure. */
export const PRESSURE_FRAME = 2;
/** Frame period (ms): frame k starts at (k − 1) × FRAME_MS, like a 60 Hz client. */
export const FRAME_MS = 16;
const NARRATIVE_LANE = 'scenario';
/** xe VRAM: 1 MiB, so the 512 KiB activations BO and a 768 KiB scanout buffer do not fit together. */
const XE_VRAM = 1 << 20;
const ACTIVATIONS_VA = 0x40_0000n;
const KiB = 1024n;

/** What a flagship run did, beside its trace: the facts its tests check. */
export interface FlagshipRun {
  readonly records: readonly TraceRecord[];
  readonly reports: readonly Report[];
  readonly clients: Readonly<Record<string, string>>;
  readonly chaos: boolean;
  /** The main task finished (false: blocked, the stall report says why). */
  readonly finished: boolean;
  readonly frames: number;
  /** Queue names per client. */
  readonly queues: { readonly npu: string; readonly render: string; readonly compute: string; readonly compositor: string };
  /** Per frame: the present fence's status (1 signalled, < 0 error) and when it signalled. */
  readonly presents: readonly { readonly status: number; readonly at: number }[];
  readonly evictions: readonly Eviction[];
  /** xe's LR queue: preempt-fence suspends, rebind-worker resumes; the VM's rebinds. */
  readonly lr: { readonly preempts: number; readonly resumes: number; readonly rebinds: number };
  /** Frames not submitted whole: a submit failed (dropped on a resource error, or its client's context was lost). */
  readonly skippedFrames: number;
  /** Of those, frames dropped on a resource error (ENOMEM …). */
  readonly droppedFrames: number;
  /** Contexts re-created (`client@frame`): after a lost context, a kill or a teardown. */
  readonly recoveries: readonly string[];
  /** The harness faults the scenario injected itself (`kill compute`, `teardown npu`, `device-lost npu`). */
  readonly injected: readonly string[];
  /** The NPU was lost (device lost): later frames rendered without a new inference. */
  readonly npuLost: boolean;
  /** Faults were asked for (`--faults` or the harness): a frame presented with an error is then expected. */
  readonly faulted: boolean;
}

/** The frame after whose submits `kill`, `teardown` and `device-lost` strike (work in flight). */
export const FAULT_FRAME = PRESSURE_FRAME;
/** The clients, in the order `kill` picks its victim (seed mod 4). */
export const FLAGSHIP_CLIENTS = ['npu', 'render', 'compute', 'compositor'] as const;
export type FlagshipClient = (typeof FLAGSHIP_CLIENTS)[number];

/** Run the flagship workload on a fresh runtime. */
export async function runFlagship(opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults' | 'harnessFaults'>, frames = FLAGSHIP_FRAMES): Promise<FlagshipRun> {
  const { rt, trace, chaos, armFaults } = newSim(opts, { name: 'flagship', faultSite: /^(drm_dep|dma_fence|sync_file|dma_resv)/ });
  const kinds = opts.harnessFaults?.kinds ?? [];
  const faulted = opts.faults === true || kinds.length > 0;
  const devices = createDevices(rt, { xeVram: XE_VRAM });
  const { xe, panthor, amdxdna } = devices;
  const clients: Record<string, string> = {};
  const queues = { npu: '', render: '', compute: '', compositor: '' };
  const presents: { status: number; at: number }[] = [];
  let evictor: VramEvictor | null = null;
  const lr = { preempts: 0, resumes: 0, rebinds: 0 };
  let skippedFrames = 0;
  let droppedFrames = 0;
  let npuLost = false;
  const recoveries: string[] = [];
  const injected: string[] = [];
  const evictions: Eviction[] = [];
  const note = (text: string, kind = 'event'): void => {
    if (rt.trace.enabled) rt.trace.emit('demo:note', { text, kind }, { lane: NARRATIVE_LANE });
  };

  const { finished } = await runMain(rt, async () => {
    // --- set-up: four clients on three devices --------------------------------------
    let npu: NpuClientState = await npuClient(amdxdna);
    const renderClient = await panthorClient(panthor);
    const render: PanthorClientState = { ...renderClient, groupHandle: await createPanthorGroup(renderClient.file, renderClient.vmId) };
    const compute: XeClientState & { readonly name: 'compute' } = { ...(await xeClient(xe, XeEngineClass.COMPUTE, XeVmCreateFlags.LR_MODE)), engineClass: XeEngineClass.COMPUTE, vmFlags: XeVmCreateFlags.LR_MODE, name: 'compute' };
    const compositor: XeClientState & { readonly name: 'compositor' } = { ...(await xeClient(xe, XeEngineClass.COPY)), engineClass: XeEngineClass.COPY, vmFlags: 0, name: 'compositor' };
    // Every xe queue and LR VM the run made (a recovered client makes new ones): waited for at teardown, counted in the stats.
    const xeQueues: XeExecQueue[] = [];
    const lrVms: XeVm[] = [];
    const nameNpu = (): void => {
      queues.npu = npu.file.hwctxs.lookup(npu.hwctx)!.queue.name;
      clients[queues.npu] = 'npu';
    };
    const nameRender = (): void => {
      queues.render = render.file.groups.lookup(render.groupHandle)!.queues[0]!.dq.name;
      clients[queues.render] = 'render';
    };
    const nameXe = (c: typeof compute | typeof compositor): void => {
      const q = c.file.execQueues.lookup(c.execQueueId)!;
      xeQueues.push(q);
      queues[c.name] = q.dep.name;
      clients[q.dep.name] = c.name;
      clients[`guc${q.gucId}`] = c.name;
      if (c === compute) {
        const vm = c.file.vms.lookup(c.vmId) as XeVm;
        if (!lrVms.includes(vm)) lrVms.push(vm);
      }
    };
    nameNpu();
    nameRender();
    nameXe(compute);
    nameXe(compositor);

    // The NPU's two output buffers, shared with the renderer by PRIME (dma-buf fds kept open).
    const outputs: { handle: number; fd: Awaited<ReturnType<typeof npu.file.primeHandleToFd>>['fd']; imported: number; cmd: number }[] = [];
    for (let i = 0; i < 2; i++) {
      const { handle } = await npu.file.createBo({ size: 64n * KiB, type: AmdxdnaBoType.SHMEM });
      const { fd } = await npu.file.primeHandleToFd({ handle });
      const { handle: imported } = await render.file.primeFdToHandle({ fd });
      outputs.push({ handle, fd, imported, cmd: await npuCommand(npu.file, 1) });
    }
    const { handle: renderIn } = await render.file.syncobjCreate();
    const { handle: renderDone } = await render.file.syncobjCreate();

    // The compute VM's activations BO in VRAM (what memory pressure will evict).
    const { handle: activations } = await compute.file.gemCreate({ size: 512n * KiB, vmId: compute.vmId, flags: GemCreateFlags.VRAM });
    await compute.file.vmBind({ vmId: compute.vmId, binds: [{ obj: activations, range: 512n * KiB, addr: ACTIVATIONS_VA }] });
    evictor = new VramEvictor(rt, xe.gpu.memory, NARRATIVE_LANE);
    const act = compute.file.gemLookup(activations)!;
    evictor.track(act, 'compute activations BO');
    act.put();

    // The compute client's exported user fences reach the compositor through a syncobj fd.
    const { handle: computeDone } = await compute.file.syncobjCreate();
    const { fd: computeDoneFd } = await compute.file.syncobjHandleToFd({ handle: computeDone });
    const { handle: compositorComputeIn } = await compositor.file.syncobjFdToHandle({ fd: computeDoneFd });
    computeDoneFd.close();
    const { handle: compositorRenderIn } = await compositor.file.syncobjCreate();
    const present: number[] = [];
    for (let k = 0; k < frames; k++) present.push((await compositor.file.syncobjCreate()).handle);
    note(`set-up done: npu ${queues.npu}, render ${queues.render}, compute ${queues.compute} (LR), compositor ${queues.compositor}`);
    armFaults();

    // --- recovery: what each client does when its context is lost ----------------------
    async function recoverNpu(): Promise<void> {
      await recreateNpuContext(npu);
      nameNpu();
    }
    async function recoverRender(): Promise<void> {
      await recreatePanthorGroup(render);
      nameRender();
    }
    async function recoverXe(c: typeof compute | typeof compositor): Promise<void> {
      await recreateXeQueue(c);
      nameXe(c);
    }
    const recover = (who: FlagshipClient): Promise<void> =>
      who === 'npu' ? recoverNpu() : who === 'render' ? recoverRender() : recoverXe(who === 'compute' ? compute : compositor);
    /** Clients whose context was lost and not yet re-created (a recovery that hit a resource error is retried next frame). */
    const lost = new Set<FlagshipClient>();
    async function recoverLost(k: number): Promise<void> {
      for (const who of FLAGSHIP_CLIENTS) {
        if (!lost.has(who)) continue;
        try {
          await recover(who);
          lost.delete(who);
          recoveries.push(`${who}@${k}`);
          note(`frame ${k}: ${who} re-created its ${who === 'npu' ? 'context' : who === 'render' ? 'group' : 'exec queue'}`, 'event');
        } catch (e) {
          if (who === 'npu' && isDepError(e, 'ENODEV')) {
            lost.delete(who);
            npuLost = true;
            note(`frame ${k}: the NPU is lost (ENODEV); the renderer carries on with the last buffers`, 'fault');
            continue;
          }
          if (clientAction(e) === null) throw e;
          note(`frame ${k}: ${who}'s re-creation failed with ${errnoName(e)}; it tries again next frame`, 'fault');
        }
      }
    }

    // --- the harness's own faults: strike after FAULT_FRAME's submits, work in flight -----
    async function inject(): Promise<void> {
      if (kinds.includes('kill')) {
        const victim = FLAGSHIP_CLIENTS[opts.seed % FLAGSHIP_CLIENTS.length]!;
        injected.push(`kill ${victim}`);
        opts.harnessFaults?.fired(`kill ${victim}`);
        note(`fault: ${victim}'s ${victim === 'npu' ? 'context' : victim === 'render' ? 'group' : 'exec queue'} destroyed with work in flight (kill)`, 'fault');
        await recover(victim);
        recoveries.push(`${victim}@${FAULT_FRAME}`);
      }
      if (kinds.includes('teardown')) {
        injected.push('teardown npu');
        opts.harnessFaults?.fired('teardown npu');
        note('fault: the NPU client closes its file with work in flight (teardown), then opens a new one and re-imports the shared buffers', 'fault');
        await npu.file.close();
        npu = await npuClient(amdxdna);
        for (const o of outputs) {
          o.handle = (await npu.file.primeFdToHandle({ fd: o.fd })).handle;
          o.cmd = await npuCommand(npu.file, 1);
        }
        nameNpu();
        recoveries.push(`npu@${FAULT_FRAME}`);
      }
      if (kinds.includes('device-lost')) {
        injected.push('device-lost npu');
        opts.harnessFaults?.fired('device-lost npu');
        note('fault: the NPU is lost (hw-sim device lost) with work in flight', 'fault');
        amdxdna.npu.lose('harness: device lost');
      }
    }

    // --- frames ------------------------------------------------------------------------
    const t0 = rt.now();
    const submitted: boolean[] = [];
    // Mid-frame 2, while its compute job runs, the compositor needs a new scanout buffer in
    // VRAM: it does not fit (its own task: the compositor's allocation does not wait for the frame loop).
    const pressure = rt.spawn(
      'compositor-alloc',
      async () => {
        await rt.sleep(t0 + (PRESSURE_FRAME - 1) * FRAME_MS + PRESSURE_DELAY_MS - rt.now());
        note('compositor: allocating a 768 KiB VRAM scanout buffer (memory pressure)', 'event');
        try {
          const { handle: scanout } = await compositor.file.gemCreate({ size: 768n * KiB, flags: GemCreateFlags.VRAM });
          await compositor.file.gemClose({ handle: scanout });
        } catch (e) {
          if (clientAction(e) !== 'drop') throw e;
          note(`compositor: the scanout allocation failed with ${errnoName(e)}; it keeps the old buffer`, 'fault');
        }
      },
      { joinable: true },
    );
    let stage: FlagshipClient = 'npu';
    for (let k = 1; k <= frames; k++) {
      const start = t0 + (k - 1) * FRAME_MS;
      if (rt.now() < start) await rt.sleep(start - rt.now());
      // Double-buffering: the NPU may write buffer k%2 again once frame k-2 was presented.
      if (k > 2 && submitted[k - 3] === true) await retryDropped(() => compositor.file.syncobjWait({ handles: [present[k - 3]!], timeoutNsec: DRM_TIMEOUT_INFINITE }));
      await recoverLost(k);
      note(`frame ${k}`);
      try {
        await frame(k);
        submitted.push(true);
      } catch (e) {
        // amdxdna refuses a submit to a dead context (device lost) with EINVAL.
        const action = clientAction(e, stage === 'npu' ? ['EINVAL'] : []);
        if (action === null) throw e;
        submitted.push(false);
        skippedFrames++;
        if (action === 'drop') {
          droppedFrames++;
          note(`frame ${k}: ${stage}'s submit failed with ${errnoName(e)}; the client drops the frame`, 'fault');
        } else {
          lost.add(stage);
          note(`frame ${k}: ${stage}'s context is lost (${errnoName(e)}); the frame is dropped and the context re-created`, 'fault');
        }
      }
      if (k === FAULT_FRAME) await inject();
    }

    async function frame(k: number): Promise<void> {
      const out = outputs[k % 2]!;
      // Per-frame work drawn from the seed: the same seed, the same frames.
      const work = { npu: 3 + Math.floor(rt.random() * 3), render: 5 + Math.floor(rt.random() * 3), compute: 6 + Math.floor(rt.random() * 5) };
      // npu: an inference writing the output buffer (its out-fence: WRITE in the buffer's resv).
      stage = 'npu';
      if (!npuLost && !lost.has('npu')) {
        const cmdObj = npu.file.gemLookup(out.cmd)!;
        writeCommand(cmdObj, { units: work.npu });
        cmdObj.put();
        await npu.file.execCmd({ hwctx: npu.hwctx, cmdHandles: out.cmd, cmdCount: 1, args: [out.handle] });
      }
      // render: Mesa's implicit sync on panthor — sync_file of the buffer's writers → in-syncobj.
      stage = 'render';
      const { fd: sf } = await out.fd.exportSyncFile({ flags: DmaBufSyncFlags.READ });
      try {
        await render.file.syncobjFdToHandle({ fd: sf, handle: renderIn, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
      } finally {
        sf.close();
      }
      await render.file.groupSubmit({ groupHandle: render.groupHandle, queueSubmits: [panthorQueueSubmit(0, work.render, [panthorWait(renderIn), panthorSignal(renderDone)])] });
      stage = 'compositor';
      const { fd: rendered } = await render.file.syncobjHandleToFd({ handle: renderDone, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
      try {
        await compositor.file.syncobjFdToHandle({ fd: rendered, handle: compositorRenderIn, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
      } finally {
        rendered.close();
      }
      // compute: an LR job writing user fence value k, exported as a dma-fence into computeDone.
      stage = 'compute';
      await compute.file.exec({
        execQueueId: compute.execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: work.compute,
        syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: BigInt(k) }],
      });
      await compute.file.vmConvertFence({ vmId: compute.vmId, syncs: [{ handle: computeDone, flags: XE_SYNC_FLAG_SIGNAL, bo: compute.bo, offset: 0n, value: BigInt(k) }] });
      // compositor: a blit waiting for the render and the compute's user fence.
      stage = 'compositor';
      await compositor.file.exec({
        execQueueId: compositor.execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: 2,
        syncs: [
          { type: XeSyncType.SYNCOBJ, flags: 0, handle: compositorRenderIn },
          { type: XeSyncType.SYNCOBJ, flags: 0, handle: compositorComputeIn },
          { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: present[k - 1]! },
        ],
      });
    }

    // Wait for every frame's present (a skipped frame's present syncobj has no fence).
    for (let k = 1; k <= frames; k++) {
      const s = compositor.file.syncobjs.lookup(present[k - 1]!)!;
      const f = s.fenceGet();
      if (f === null) {
        presents.push({ status: 0, at: rt.now() });
        continue;
      }
      await f.wait();
      presents.push({ status: f.getStatus(), at: f.timestamp() });
      f.put();
    }
    await pressure.join();
    for (const q of xeQueues) {
      if (clients[q.dep.name] !== 'compute') continue;
      lr.preempts += q.preempts;
      lr.resumes += q.resumes;
    }
    for (const vm of lrVms) lr.rebinds += vm.rebinds;
    note(`${presents.filter((p) => p.status === 1).length} of ${frames} frames presented`);

    // --- teardown: close every file, free the devices -----------------------------------
    for (const o of outputs) o.fd.close();
    for (const f of [npu.file, render.file, compute.file, compositor.file]) await f.close();
    for (const q of xeQueues) await q.dep.waitReleased();
    evictions.push(...evictor.evictions);
    evictor.dispose();
    evictor = null;
    await rt.sleep(1);
    await finiDevices(devices);
  });
  if (evictor !== null) {
    // The main task did not reach its teardown (a deadlock, an error): still free what the evictor holds.
    const ev: VramEvictor = evictor;
    evictions.push(...ev.evictions);
    ev.dispose();
  }
  const reports = rt.shutdown();
  return {
    records: trace.records,
    reports,
    clients,
    chaos,
    finished,
    frames,
    queues,
    presents,
    evictions,
    lr,
    skippedFrames,
    droppedFrames,
    recoveries,
    injected,
    npuLost,
    faulted,
  };
}

/** The narrative notes of a run, as log lines (`   16.000 ms  frame 2`). */
function narrative(records: readonly TraceRecord[]): string[] {
  const out: string[] = [];
  for (const r of records) {
    if (r.name !== 'demo:note') continue;
    const { text } = r.args as { text: string };
    out.push(`${r.ts.toFixed(3).padStart(9)} ms  ${text}`);
  }
  return out;
}

/** The verdict: the fence/leak rules every scenario shares, then the flagship's own. */
export function flagshipVerdict(run: FlagshipRun, traces: readonly RunTrace[]): ReturnType<typeof judge> {
  const base = judge(traces, run.reports);
  if (!base.ok) return base;
  if (!run.finished) return { ok: false, outcome: 'deadlock', detail: 'the main task never finished, with nothing left to run' };
  const failed = run.presents.filter((p) => p.status < 0).length;
  // Under faults a frame whose work was hit (a hang, a kill, a lost device) presents with its error; without, none may.
  if (failed > 0 && !run.faulted) return { ok: false, outcome: 'frame errors', detail: `${failed} of ${run.frames} frame(s) presented with an error` };
  const shown = run.presents.filter((p) => p.status === 1).length;
  const ev = run.evictions.length;
  const faults = [
    failed > 0 ? `${failed} presented with an error` : '',
    run.droppedFrames > 0 ? `${run.droppedFrames} dropped on a resource error` : '',
    run.skippedFrames - run.droppedFrames > 0 ? `${run.skippedFrames - run.droppedFrames} lost with a context` : '',
    run.injected.length > 0 ? `injected: ${run.injected.join(', ')}` : '',
    run.recoveries.length > 0 ? `re-created: ${run.recoveries.join(', ')}` : '',
    run.npuLost ? 'the NPU was lost' : '',
  ].filter((x) => x !== '');
  return {
    ok: true,
    outcome: base.outcome,
    detail: `${base.detail}; ${shown}/${run.frames} frames presented${faults.length > 0 ? ` (${faults.join('; ')})` : ''}; ${ev} eviction(s), the LR queue preempted ${run.lr.preempts}× and resumed ${run.lr.resumes}×; nothing leaked`,
  };
}

/** The run as a scenario result (stats from the drm_dep tracepoints, xe's LR preemptions added). */
export function flagshipResult(run: FlagshipRun, opts: ScenarioOptions): ScenarioResult {
  const trace: RunTrace = { label: 'flagship', records: run.records, clients: run.clients, reports: run.reports };
  // Queues no client submitted to (panthor's VM bind queue: binds here are synchronous) are left out.
  const stats = queueStats(trace, { extraPreemptions: { [run.queues.compute]: run.lr.preempts } }).filter((s) => s.jobs > 0 || s.queue in run.clients);
  return makeResult('flagship', opts, { traces: [trace], reports: run.reports, stats, chaos: run.chaos, verdict: flagshipVerdict(run, [trace]) });
}

/**
 * The harness faults flagship takes: every site kind (armed after set-up), and `kill` (a
 * client's queue, group or context destroyed with work in flight — the victim is seed
 * mod 4), `teardown` (the NPU client closes its file with work in flight and re-opens) and
 * `device-lost` (the NPU, the one device whose driver models it), all after frame
 * {@link FAULT_FRAME}'s submits.
 */
export const FLAGSHIP_FAULT_KINDS: readonly FaultKind[] = ['alloc', 'hang', 'fw-error', 'page-fault', 'kill', 'teardown', 'device-lost'];

export const flagshipScenario: Scenario = {
  name: 'flagship',
  summary: 'all three drivers: an NPU inference (amdxdna) feeds a panthor render by PRIME + implicit sync, an xe LR compute queue\'s user fences feed a compositor; memory pressure preempts and resumes the LR queue',
  faultKinds: FLAGSHIP_FAULT_KINDS,
  async run(opts: ScenarioOptions): Promise<ScenarioResult> {
    const run = await runFlagship(opts);
    opts.log(opts.colors.dim('virtual time  event'));
    for (const line of narrative(run.records)) opts.log(/TTM|pressure/.test(line) ? opts.colors.cyan(line) : line);
    return flagshipResult(run, opts);
  },
};
