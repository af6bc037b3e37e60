import type { ExecEvent } from '@dep/kernel';
import type { CommandStreamer } from './command-streamer.js';
import type { Command, CommandRing, SemaphoreWaitCommand } from './commands.js';
import type { Engine, EngineClass } from './engine.js';

/**
 * Where a hardware context is, as the command streamer sees it:
 * `idle` (off any engine), `running` (on an engine: in a batch, or being saved),
 * `blocked` (off the engine, waiting on a semaphore), `error` (faulted or reset; it runs
 * no more until its owner recovers it).
 */
export type HwContextState = 'idle' | 'running' | 'blocked' | 'error';

/** What a firmware model learns from the command streamer about a context. */
export interface StreamOwner {
  /** The context consumed every visible command and left its engine. */
  ctxIdle(ctx: HwContext): void;
  /** The context hit an unmet semaphore and left its engine. */
  ctxBlocked(ctx: HwContext): void;
  /** A semaphore the context waited on is now met; it may run again. */
  ctxReleased(ctx: HwContext): void;
  /** The context faulted (a command touched an unmapped address) and left its engine. */
  ctxFault(ctx: HwContext, kind: 'page-fault', addr: number): void;
  /** An `interrupt` command ran. */
  userInterrupt(ctx: HwContext, data: number): void;
  /** A `seqnoWrite` ran (CSF raises sync-update events from these). */
  seqnoWritten(ctx: HwContext, addr: number): void;
}

/**
 * A hardware context: a ring the hardware consumes up to the tail it was told about
 * (`hwTail`), plus the execution state a context switch saves (the current batch's
 * remaining time). GuC contexts, CSF queues are these; the owner (firmware model) decides
 * when it runs. Internal to hw-sim: drivers see firmware-level handles.
 */
export class HwContext {
  readonly id: number;
  readonly name: string;
  readonly engineClass: EngineClass;
  readonly ring: CommandRing;
  readonly owner: StreamOwner;
  /** Owner's record for this context. */
  readonly fw: unknown;
  /** Free-running ring position up to which the hardware may consume. */
  hwTail: number;
  state: HwContextState = 'idle';
  engine: Engine | null = null;
  /** Running time before the current stint, ms. */
  runtimeAccum = 0;
  /** When the current stint on an engine began. */
  runSince = 0;
  /** Remaining ms of the batch at the head; -1 when none started. */
  batchLeft = -1;
  pieceStart = 0;
  batchEv: ExecEvent | null = null;
  saveEv: ExecEvent | null = null;
  /** The current batch hangs (injected). */
  hung = false;
  sem: SemaphoreWaitCommand | null = null;
  semUnwatch: (() => void) | null = null;
  /** Divides the per-unit cost (NPU partitions with more columns run faster). */
  costScale = 1;
  /** Batches completed. */
  batches = 0;
  /** The streamer that last ran it. */
  cs: CommandStreamer | null = null;

  constructor(id: number, name: string, engineClass: EngineClass, ring: CommandRing, owner: StreamOwner, fw: unknown) {
    this.id = id;
    this.name = name;
    this.engineClass = engineClass;
    this.ring = ring;
    this.owner = owner;
    this.fw = fw;
    this.hwTail = ring.rptr;
  }

  /** Commands visible to the hardware and not yet consumed. */
  get hasWork(): boolean {
    return this.ring.rptr < this.hwTail;
  }

  /** The command at the head, if visible. */
  get head(): Command | undefined {
    return this.hasWork ? this.ring.peek() : undefined;
  }

  /** Total time on an engine (the GuC running-time counter), up to `now`. */
  runtimeMs(now: number): number {
    return this.runtimeAccum + (this.engine !== null ? now - this.runSince : 0);
  }
}
