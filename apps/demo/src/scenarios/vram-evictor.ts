/**
 * Memory pressure for the flagship: a TTM-style eviction callback on a device's VRAM.
 *
 * When an allocation does not fit, hw-sim's `DeviceMemory.alloc` calls the region's
 * eviction callbacks (the driver's shrinker). This one keeps an LRU of the BOs it may
 * evict and, for the least recently used one still in VRAM, does what `ttm_bo_evict()`
 * does to a BO, with the BO reserved (its resv locked) throughout: wait for every fence in
 * its reservation object
 * (`dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, …)`, which enables signalling on
 * them — an xe long-running VM's preempt fences among them: the queues are suspended) and
 * move it to system memory (copy, then free the VRAM placement).
 *
 * What the model lacks and the demo stands in for: GEM objects here have one fixed
 * backing store and no page tables, so "move" copies the contents into a system-memory
 * shadow the evictor owns and frees the VRAM range; nothing reads the BO through its old
 * address afterwards (the flagship evicts a BO its batches do not address). xe's rebind
 * worker re-validates nothing (decision 0642), so the BO is not moved back.
 */
import { DmaResvUsage } from '@dep/dma-resv';
import type { GemObject } from '@dep/drm';
import type { DeviceMemory, HwBuffer } from '@dep/hw-sim';
import type { Runtime } from '@dep/kernel';
import '../trace-events.js';

/** One eviction the callback made. */
export interface Eviction {
  readonly bo: string;
  /** When the callback picked the BO, and when its fences had signalled (ms). */
  readonly startedAt: number;
  readonly idleAt: number;
  readonly bytes: number;
}

/** How long an eviction waits for a BO's fences before it gives up on it (ms). */
export const EVICT_WAIT_MS = 10_000;

export class VramEvictor {
  readonly evictions: Eviction[] = [];
  readonly #rt: Runtime;
  readonly #memory: DeviceMemory;
  readonly #lru: { obj: GemObject; name: string }[] = [];
  readonly #shadows: HwBuffer[] = [];
  readonly #unregister: () => void;
  readonly #lane: string;

  /** Registers the callback on `memory`'s VRAM; `lane` is where the demo's trace notes go. */
  constructor(rt: Runtime, memory: DeviceMemory, lane: string) {
    this.#rt = rt;
    this.#memory = memory;
    this.#lane = lane;
    this.#unregister = memory.onEvict('vram', () => this.#evictOne());
  }

  /** Make `obj` evictable (takes a reference; most recently used last). */
  track(obj: GemObject, name: string): void {
    this.#lru.push({ obj: obj.get(), name });
  }

  /**
   * The callback: evict the least recently used tracked BO still in VRAM. False when there
   * is none, or its fences did not signal within {@link EVICT_WAIT_MS} (TTM's -EBUSY).
   * Sleeps (a task: the allocating ioctl).
   */
  async #evictOne(): Promise<boolean> {
    const rt = this.#rt;
    const victim = this.#lru.find((e) => e.obj.buffer !== null && e.obj.buffer.region === 'vram' && !e.obj.buffer.freed);
    if (victim === undefined) return false;
    const buf = victim.obj.buffer!;
    const resv = victim.obj.resv;
    const startedAt = rt.now();
    // The BO stays reserved for the whole eviction, as TTM's LRU walk keeps it: whoever
    // wants to add fences to it (xe's rebind worker re-arming the preempt fence) waits.
    await resv.lock(null);
    try {
      this.#note(`TTM: evicting ${victim.name} (${buf.size >> 10} KiB of VRAM): waiting for its resv's fences`, 'preempt');
      const left = await resv.waitTimeout(DmaResvUsage.BOOKKEEP, EVICT_WAIT_MS);
      if (left <= 0) {
        this.#note(`TTM: ${victim.name} still busy after ${EVICT_WAIT_MS} ms; not evicted`, 'fault');
        return false;
      }
      const shadow = this.#memory.allocNow('system', buf.size, { name: `${victim.name} (evicted)` });
      shadow.bytes().set(buf.bytes());
      this.#shadows.push(shadow);
      buf.free();
    } finally {
      resv.unlock();
    }
    const idleAt = rt.now();
    this.evictions.push({ bo: victim.name, startedAt, idleAt, bytes: buf.size });
    this.#note(`TTM: ${victim.name} moved to system memory (its fences signalled after ${+(idleAt - startedAt).toFixed(3)} ms)`, 'event');
    return true;
  }

  #note(text: string, kind: string): void {
    if (this.#rt.trace.enabled) this.#rt.trace.emit('demo:note', { text, kind }, { lane: this.#lane });
  }

  /** Unregister, drop the BO references and free the system copies. */
  dispose(): void {
    this.#unregister();
    for (const e of this.#lru.splice(0)) e.obj.put();
    for (const s of this.#shadows.splice(0)) s.free();
  }
}
