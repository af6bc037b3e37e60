// Port of the kernel's suite "dma-buf-fence-chain" (drivers/dma-buf/st-dma-fence-chain.c,
// kernel-api.md C3), one test per kernel case, same names. Threads become tasks of a
// virtual runtime; test_find_race runs under many chaos seeds instead of on every CPU.
// Every test ends with fence_chains_fini, which here also checks that every fence and
// every node was released (no reference leaked, none put twice) and nothing was reported.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFence, DmaFenceChain, type DmaFenceOps, type Fence } from './index.js';

const CHAIN_SZ = 4 << 10;

/** `mock_fence()`: the two names and a release op; context 0, seqno 0. */
const mockOps: DmaFenceOps = {
  getDriverName: () => 'mock',
  getTimelineName: () => 'mock',
  release: () => {},
};

function mockFence(rt: Runtime): DmaFence {
  return new DmaFence(mockOps, 0n, 0n, { runtime: rt });
}

/** `mock_chain(prev, fence, seqno)`: the node takes references of its own. */
function mockChain(prev: Fence | null, fence: Fence, seqno: bigint): DmaFenceChain {
  return DmaFenceChain.create(prev === null ? null : prev.get(), fence.get(), seqno);
}

interface FenceChains {
  rt: Runtime;
  chainLength: number;
  fences: DmaFence[];
  chains: DmaFenceChain[];
  tail: DmaFenceChain;
}

const seqnoInc = (i: number): bigint => BigInt(i + 1);
const seqnoInc2 = (i: number): bigint => BigInt(2 * i + 2);

/** `fence_chains_init()`: count nodes, node i wrapping fence i, each with signalling enabled. */
function fenceChainsInit(rt: Runtime, count: number, seqnoFn: (i: number) => bigint = seqnoInc): FenceChains {
  const fences: DmaFence[] = [];
  const chains: DmaFenceChain[] = [];
  let tail: DmaFenceChain | null = null;
  for (let i = 0; i < count; i++) {
    fences.push(mockFence(rt));
    const chain = mockChain(tail, fences[i]!, seqnoFn(i));
    chains.push(chain);
    tail = chain;
    chain.enableSwSignaling();
  }
  return { rt, chainLength: count, fences, chains, tail: tail! };
}

/**
 * `fence_chains_fini()`: signal and put every fence, then put every node. Then (not in
 * the kernel) run the deferred irq_work and check everything was released exactly once.
 */
async function fenceChainsFini(fc: FenceChains): Promise<void> {
  for (const f of fc.fences) {
    f.signal();
    f.put();
  }
  for (const c of fc.chains) c.put();
  await fc.rt.runUntilIdle();
  expect(fc.fences.filter((f) => f.refcount !== 0)).toEqual([]);
  expect(fc.chains.filter((c) => c.refcount !== 0)).toEqual([]);
  expect(fc.chains.every((c) => c.testSignaledFlag())).toBe(true);
  expect(fc.rt.reports.list).toEqual([]);
}

/** `err = dma_fence_chain_find_seqno(&fence, seqno); dma_fence_put(fence);` on a fresh reference to `from`. */
function find(from: Fence, seqno: bigint): { ret: number; fence: Fence | null } {
  const r = DmaFenceChain.findSeqno(from.get(), seqno);
  r.fence?.put();
  return r;
}

describe('dma-buf-fence-chain', () => {
  it('test_sanitycheck', async () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const chain = mockChain(null, f, 1n);
    chain.enableSwSignaling();
    f.signal();
    f.put();
    chain.put();
    await rt.runUntilIdle();
    expect(chain.testSignaledFlag()).toBe(true);
    expect(chain.refcount).toBe(0);
    expect(f.refcount).toBe(0);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_find_seqno', async () => {
    const fc = fenceChainsInit(new Runtime(), 64);
    let r = find(fc.tail, 0n);
    expect(r.ret, 'Reported error for find_seqno(0)!').toBe(0);
    expect(r.fence, 'find_seqno(0) must leave the fence unchanged').toBe(fc.tail);

    for (let i = 0; i < fc.chainLength; i++) {
      r = find(fc.tail, BigInt(i + 1));
      expect(r.ret, `Reported ${r.ret} for find_seqno(${fc.chainLength + 1}:${i + 1})!`).toBe(0);
      expect(r.fence, `Incorrect fence reported by find_seqno(${fc.chainLength + 1}:${i + 1})`).toBe(fc.chains[i]);

      r = find(fc.chains[i]!, BigInt(i + 1));
      expect(r.ret, 'Error reported for finding self').toBe(0);
      expect(r.fence, 'Incorrect fence reported by find self').toBe(fc.chains[i]);

      r = find(fc.chains[i]!, BigInt(i + 2));
      expect(r.ret, `Error not reported for future fence: find_seqno(${i + 1}:${i + 2})!`).toBe(-22);
      expect(r.fence, 'a failed find leaves the fence').toBe(fc.chains[i]);

      r = find(fc.chains[i]!, BigInt(i));
      expect(r.ret, 'Error reported for previous fence!').toBe(0);
      if (i > 0) expect(r.fence, `Incorrect fence reported by find_seqno(${i + 1}:${i})`).toBe(fc.chains[i - 1]);
    }
    await fenceChainsFini(fc);
  });

  it('test_find_signaled', async () => {
    const fc = fenceChainsInit(new Runtime(), 2);
    fc.fences[0]!.signal();
    const r = find(fc.tail, 1n);
    expect(r.ret, 'Reported error for find_seqno()!').toBe(0);
    // Either the completed point was collected (null) or its node is returned.
    expect(r.fence === null || r.fence === fc.chains[0], `Incorrect chain-fence.seqno:${r.fence?.seqno} reported for completed seqno:1`).toBe(true);
    if (r.fence !== null) expect(find(r.fence, 1n).ret, 'Reported error for finding self!').toBe(0);
    await fenceChainsFini(fc);
  });

  it('test_find_out_of_order', async () => {
    const fc = fenceChainsInit(new Runtime(), 3);
    fc.fences[1]!.signal();
    const r = find(fc.tail, 2n);
    expect(r.ret, 'Reported error for find_seqno()!').toBe(0);
    // The middle fence (2) of 1-2-3 signalled, but point 2 waits for fence 1 as well: the
    // node to wait on is node 0 (node 1 was garbage-collected on the way).
    expect(r.fence, `Incorrect chain-fence.seqno:${r.fence?.seqno ?? 0n} reported for completed seqno:2`).toBe(fc.chains[0]);
    expect(fc.chains[2]!.prev, 'node 1 was spliced out of the tail').toBe(fc.chains[0]);
    await fenceChainsFini(fc);
  });

  it('test_find_gap', async () => {
    const fc = fenceChainsInit(new Runtime(), 64, seqnoInc2);
    for (let i = 0; i < fc.chainLength; i++) {
      let r = find(fc.tail, BigInt(2 * i + 1));
      expect(r.ret, `Reported ${r.ret} for find_seqno(${fc.chainLength + 1}:${2 * i + 1})!`).toBe(0);
      expect(r.fence, `Incorrect fence.seqno:${r.fence?.seqno} reported by find_seqno(${fc.chainLength + 1}:${2 * i + 1})`).toBe(fc.chains[i]);
      r = find(fc.chains[i]!, BigInt(2 * i + 2));
      expect(r.ret, 'Error reported for finding self').toBe(0);
      expect(r.fence, 'Incorrect fence reported by find self').toBe(fc.chains[i]);
    }
    await fenceChainsFini(fc);
  });

  it('test_find_race: random finds and signals from concurrent tasks, 32 chaos seeds', async () => {
    const NTASKS = 3;
    const SEEDS = 32;
    const ITERATIONS = 200;
    let finds = 0;
    let selfFinds = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rt = new Runtime({ chaos: true, seed });
      const fc = fenceChainsInit(rt, CHAIN_SZ);
      const task = async (): Promise<number> => {
        for (let n = 0; n < ITERATIONS; n++) {
          const seqno = BigInt(1 + rt.randomInt(fc.chainLength));
          const r = DmaFenceChain.findSeqno(fc.tail.get(), seqno);
          if (r.ret !== 0) {
            r.fence.put();
            return r.ret;
          }
          finds++;
          await rt.yield();
          const fence = r.fence;
          if (fence === null) {
            // null: the point has completed, so its node (seqno i + 1 is node i) has too
            if (!fc.chains[Number(seqno) - 1]!.isSignaled()) return -22;
          } else {
            // We can only find ourselves if we are on the fence we were looking for.
            if (fence.seqno === seqno) {
              const self = DmaFenceChain.findSeqno(fence, seqno);
              if (self.ret !== 0) {
                self.fence.put();
                return self.ret;
              }
              if (self.fence !== fence && self.fence !== null) {
                self.fence.put();
                return -22;
              }
              selfFinds++;
              self.fence?.put();
            } else {
              fence.put();
            }
          }
          fc.fences[rt.randomInt(fc.chainLength - 1)]!.signal();
          await rt.yield();
        }
        return 0;
      };
      const tasks = Array.from({ length: NTASKS }, (_, i) => rt.spawn(`dmabuf/${i}`, task, { joinable: true }));
      const idle = await rt.runUntilIdle();
      expect(idle.stalled).toEqual([]);
      for (const t of tasks) expect(await t.join(), `find failed under seed ${seed}`).toBe(0);
      expect(fc.fences.filter((f) => f.testSignaledFlag()).length).toBeGreaterThan(0);
      await fenceChainsFini(fc);
    }
    expect(finds).toBe(SEEDS * NTASKS * ITERATIONS);
    // The seeds found exact points. A completed point (null) needs every earlier fence of
    // the 4 096 signalled, which random signalling of 600 of them almost never gives (0–1
    // times over the 32 seeds, depending on how the executor's events interleave): that
    // outcome is test_find_signaled's; here each null that happens is checked above.
    expect(selfFinds).toBeGreaterThan(0);
  }, 120_000);

  it('test_signal_forward', async () => {
    const fc = fenceChainsInit(new Runtime(), 64);
    for (let i = 0; i < fc.chainLength; i++) {
      fc.fences[i]!.signal();
      expect(fc.chains[i]!.isSignaled(), `chain[${i}] not signaled!`).toBe(true);
      if (i + 1 < fc.chainLength) expect(fc.chains[i + 1]!.isSignaled(), `chain[${i}] is signaled!`).toBe(false);
    }
    await fenceChainsFini(fc);
  });

  it('test_signal_backward', async () => {
    const fc = fenceChainsInit(new Runtime(), 64);
    for (let i = fc.chainLength; i--; ) {
      fc.fences[i]!.signal();
      if (i > 0) expect(fc.chains[i]!.isSignaled(), `chain[${i}] is signaled!`).toBe(false);
    }
    for (let i = 0; i < fc.chainLength; i++) expect(fc.chains[i]!.isSignaled(), `chain[${i}] was not signaled!`).toBe(true);
    await fenceChainsFini(fc);
  });

  /** `wait_forward` / `wait_backward` / `wait_random`: a task waits on the tail while the test signals every fence. */
  async function waitTest(order: (fc: FenceChains) => DmaFence[]): Promise<void> {
    const rt = new Runtime();
    const fc = fenceChainsInit(rt, CHAIN_SZ);
    const signalOrder = order(fc);
    let resumedAt = -1;
    await rt.run(async () => {
      const tsk = rt.spawn(
        'dmabuf/wait',
        async () => {
          // __wait_fence_chains(): -EIO if the wait failed.
          const err = (await fc.tail.wait()) !== 0 ? -5 : 0;
          resumedAt = rt.now();
          return err;
        },
        { joinable: true },
      );
      await rt.yield(); // yield_to(tsk)
      expect(fc.tail.testSignaledFlag()).toBe(false);
      for (const f of signalOrder) f.signal();
      expect(await tsk.join()).toBe(0);
    });
    expect(fc.tail.testSignaledFlag()).toBe(true);
    expect(resumedAt).toBe(0);
    await fenceChainsFini(fc);
  }

  it('test_wait_forward', async () => {
    await waitTest((fc) => [...fc.fences]);
  });

  it('test_wait_backward', async () => {
    await waitTest((fc) => [...fc.fences].reverse());
  });

  it('test_wait_random', async () => {
    // randomise_fences(): Fisher-Yates, from the runtime's seeded PRNG.
    await waitTest((fc) => {
      const f = [...fc.fences];
      for (let count = f.length - 1; count > 0; count--) {
        const swp = fc.rt.randomInt(count + 1);
        [f[count], f[swp]] = [f[swp]!, f[count]!];
      }
      expect(f).not.toEqual(fc.fences);
      return f;
    });
  });
});
