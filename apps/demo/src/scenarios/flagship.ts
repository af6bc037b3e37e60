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
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmCreateFlags, type XeVm } from '@dep/driver-xe';
import { isDepError, type Report, type TraceRecord } from '@dep/kernel';
import { judge, makeResult, newSim, queueStats, runMain } from '../result.js';
import '../trace-events.js';
import type { RunTrace, Scenario, ScenarioOptions, ScenarioResult } from './index.js';
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
  /** Frames whose submits failed with ENOMEM under `--faults` (skipped, as a client would). */
  readonly skippedFrames: number;
}

/** Run the flagship workload on a fresh runtime. */
export async function runFlagship(opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults'>, frames = FLAGSHIP_FRAMES): Promise<FlagshipRun> {
  const { rt, trace, chaos, armFaults } = newSim(opts, { name: 'flagship', faultSite: /^(drm_dep|dma_fence|sync_file|dma_resv)/ });
  const devices = createDevices(rt, { xeVram: XE_VRAM });
  const { xe, panthor, amdxdna } = devices;
  const clients: Record<string, string> = {};
  const queues = { npu: '', render: '', compute: '', compositor: '' };
  const presents: { status: number; at: number }[] = [];
  let evictor: VramEvictor | null = null;
  let lr = { preempts: 0, resumes: 0, rebinds: 0 };
  let skippedFrames = 0;
  const evictions: Eviction[] = [];
  const note = (text: string, kind = 'event'): void => {
    if (rt.trace.enabled) rt.trace.emit('demo:note', { text, kind }, { lane: NARRATIVE_LANE });
  };

  const { finished } = await runMain(rt, async () => {
    // --- set-up: four clients on three devices --------------------------------------
    const npu = await npuClient(amdxdna);
    const hwctx = npu.file.hwctxs.lookup(npu.hwctx)!;
    queues.npu = hwctx.queue.name;
    const render = await panthorClient(panthor);
    const { groupHandle } = await render.file.groupCreate({ vmId: render.vmId, priority: 0, queues: [{ priority: 0, pad: 0, ringbufSize: 4096 }] });
    queues.render = render.file.groups.lookup(groupHandle)!.queues[0]!.dq.name;
    const compute = await xeClient(xe, XeEngineClass.COMPUTE, XeVmCreateFlags.LR_MODE);
    const lrQueue = compute.file.execQueues.lookup(compute.execQueueId)!;
    const lrVm = compute.file.vms.lookup(compute.vmId) as XeVm;
    queues.compute = lrQueue.dep.name;
    const compositor = await xeClient(xe, XeEngineClass.COPY);
    queues.compositor = compositor.file.execQueues.lookup(compositor.execQueueId)!.dep.name;
    const compositorQueue = compositor.file.execQueues.lookup(compositor.execQueueId)!;
    // Queue names and the hardware contexts' names (xe's GuC ids) → client, for colours and the summary.
    Object.assign(clients, {
      [queues.npu]: 'npu',
      [queues.render]: 'render',
      [queues.compute]: 'compute',
      [`guc${lrQueue.gucId}`]: 'compute',
      [queues.compositor]: 'compositor',
      [`guc${compositorQueue.gucId}`]: 'compositor',
    });

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
        const { handle: scanout } = await compositor.file.gemCreate({ size: 768n * KiB, flags: GemCreateFlags.VRAM });
        await compositor.file.gemClose({ handle: scanout });
      },
      { joinable: true },
    );
    for (let k = 1; k <= frames; k++) {
      const start = t0 + (k - 1) * FRAME_MS;
      if (rt.now() < start) await rt.sleep(start - rt.now());
      // Double-buffering: the NPU may write buffer k%2 again once frame k-2 was presented.
      if (k > 2 && submitted[k - 3] === true) await compositor.file.syncobjWait({ handles: [present[k - 3]!], timeoutNsec: DRM_TIMEOUT_INFINITE });
      note(`frame ${k}`);
      try {
        await frame(k);
        submitted.push(true);
      } catch (e) {
        if (!isDepError(e, 'ENOMEM')) throw e;
        submitted.push(false);
        skippedFrames++;
        note(`frame ${k}: a submit failed with ENOMEM (--faults); the client skips the frame`, 'fault');
      }
    }

    async function frame(k: number): Promise<void> {
      const out = outputs[k % 2]!;
      // Per-frame work drawn from the seed: the same seed, the same frames.
      const work = { npu: 3 + Math.floor(rt.random() * 3), render: 5 + Math.floor(rt.random() * 3), compute: 6 + Math.floor(rt.random() * 5) };
      // npu: an inference writing the output buffer (its out-fence: WRITE in the buffer's resv).
      const cmdObj = npu.file.gemLookup(out.cmd)!;
      writeCommand(cmdObj, { units: work.npu });
      cmdObj.put();
      await npu.file.execCmd({ hwctx: npu.hwctx, cmdHandles: out.cmd, cmdCount: 1, args: [out.handle] });
      // render: Mesa's implicit sync on panthor — sync_file of the buffer's writers → in-syncobj.
      const { fd: sf } = await out.fd.exportSyncFile({ flags: DmaBufSyncFlags.READ });
      try {
        await render.file.syncobjFdToHandle({ fd: sf, handle: renderIn, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
      } finally {
        sf.close();
      }
      await render.file.groupSubmit({ groupHandle, queueSubmits: [panthorQueueSubmit(0, work.render, [panthorWait(renderIn), panthorSignal(renderDone)])] });
      const { fd: rendered } = await render.file.syncobjHandleToFd({ handle: renderDone, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
      try {
        await compositor.file.syncobjFdToHandle({ fd: rendered, handle: compositorRenderIn, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
      } finally {
        rendered.close();
      }
      // compute: an LR job writing user fence value k, exported as a dma-fence into computeDone.
      await compute.file.exec({
        execQueueId: compute.execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: work.compute,
        syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: BigInt(k) }],
      });
      await compute.file.vmConvertFence({ vmId: compute.vmId, syncs: [{ handle: computeDone, flags: XE_SYNC_FLAG_SIGNAL, bo: compute.bo, offset: 0n, value: BigInt(k) }] });
      // compositor: a blit waiting for the render and the compute's user fence.
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
    lr = { preempts: lrQueue.preempts, resumes: lrQueue.resumes, rebinds: lrVm.rebinds };
    note(`${presents.filter((p) => p.status === 1).length} of ${frames} frames presented`);

    // --- teardown: close every file, free the devices -----------------------------------
    for (const o of outputs) o.fd.close();
    const xeQueues = [lrQueue, compositorQueue];
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
  if (failed > 0) return { ok: false, outcome: 'frame errors', detail: `${failed} of ${run.frames} frame(s) presented with an error` };
  const shown = run.presents.filter((p) => p.status === 1).length;
  const ev = run.evictions.length;
  return {
    ok: true,
    outcome: base.outcome,
    detail: `${base.detail}; ${shown}/${run.frames} frames presented${run.skippedFrames > 0 ? ` (${run.skippedFrames} skipped on ENOMEM)` : ''}; ${ev} eviction(s), the LR queue preempted ${run.lr.preempts}× and resumed ${run.lr.resumes}×; nothing leaked`,
  };
}

/** The run as a scenario result (stats from the drm_dep tracepoints, xe's LR preemptions added). */
export function flagshipResult(run: FlagshipRun, opts: ScenarioOptions): ScenarioResult {
  const trace: RunTrace = { label: 'flagship', records: run.records, clients: run.clients, reports: run.reports };
  // Queues no client submitted to (panthor's VM bind queue: binds here are synchronous) are left out.
  const stats = queueStats(trace, { extraPreemptions: { [run.queues.compute]: run.lr.preempts } }).filter((s) => s.jobs > 0 || s.queue in run.clients);
  return makeResult('flagship', opts, { traces: [trace], reports: run.reports, stats, chaos: run.chaos, verdict: flagshipVerdict(run, [trace]) });
}

export const flagshipScenario: Scenario = {
  name: 'flagship',
  summary: 'all three drivers: an NPU inference (amdxdna) feeds a panthor render by PRIME + implicit sync, an xe LR compute queue\'s user fences feed a compositor; memory pressure preempts and resumes the LR queue',
  async run(opts: ScenarioOptions): Promise<ScenarioResult> {
    const run = await runFlagship(opts);
    opts.log(opts.colors.dim('virtual time  event'));
    for (const line of narrative(run.records)) opts.log(/TTM|pressure/.test(line) ? opts.colors.cyan(line) : line);
    return flagshipResult(run, opts);
  },
};
