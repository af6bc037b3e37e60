// Group "fence-array", the baseline: native `Promise.all` over 8 promises. One op: make 8
// promises with their resolvers, `Promise.all(…).then(cb)`, resolve all 8; the callback
// counts. Microtasks are drained (`await null`) every 1024 ops, the hot loop sits in a
// sync helper, and each aggregate escapes into a small ring.
import { defineCase } from '../case.js';

const CHUNK = 1024;
const WIDTH = 8;
let count = 0;
const onAll = (): void => {
  count++;
};
const sink: Promise<void>[] = new Array<Promise<void>>(CHUNK);

function chunk(k: number): void {
  const resolvers: (() => void)[] = new Array<() => void>(WIDTH);
  for (let i = 0; i < k; i++) {
    const members: Promise<void>[] = new Array<Promise<void>>(WIDTH);
    for (let j = 0; j < WIDTH; j++) {
      members[j] = new Promise<void>((r) => {
        resolvers[j] = r;
      });
    }
    const all = Promise.all(members).then(onAll);
    for (let j = 0; j < WIDTH; j++) resolvers[j]!();
    sink[i] = all;
  }
}

export default defineCase({
  name: 'Promise.all over 8',
  group: 'fence-array',
  baseline: true,
  ops: 20_000,
  async batch(n) {
    count = 0;
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK, n - done);
      chunk(k);
      done += k;
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await null;
    }
    // Promise.all settles a few microtask hops after its last member: let the last chunk finish.
    // eslint-disable-next-line @typescript-eslint/await-thenable
    for (let spins = 0; count < n && spins < 16; spins++) await null;
    return count;
  },
});
