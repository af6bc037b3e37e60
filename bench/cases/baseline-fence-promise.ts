// Group "fence". time: native Promise create + .then + resolve; microtasks are drained
// (`await null`) every 1024 ops so the batch is not billed for a huge microtask queue, and
// the hot loop sits in a sync helper. retained: a pending promise with one reaction, held
// through its resolve function (what a signaller must keep).
import { defineCase } from '../case.js';

const CHUNK = 1024;
let count = 0;
const onResolve = (): void => {
  count++;
};

function chunk(k: number): void {
  for (let i = 0; i < k; i++) {
    let resolve!: () => void;
    const p = new Promise<void>((r) => {
      resolve = r;
    });
    void p.then(onResolve);
    resolve();
  }
}

export default defineCase({
  name: 'promise',
  group: 'fence',
  async batch(n) {
    count = 0;
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK, n - done);
      chunk(k);
      done += k;
      // Drain the microtask queue (the method's `await null` every 1024 ops).
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await null;
    }
    return count;
  },
  retain(n, holder) {
    for (let i = 0; i < n; i++) {
      let resolve!: () => void;
      const p = new Promise<void>((r) => {
        resolve = r;
      });
      void p.then(onResolve);
      holder[i] = resolve;
    }
    return n;
  },
});
