// Group "dma-fence": native Promise create + .then + resolve (same method as
// baseline-fence-promise.ts: microtasks drained every 1024 ops, hot loop in a sync helper).
// Retained: a pending promise with one reaction, held through its resolve function.
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
  name: 'promise .then',
  group: 'dma-fence',
  async batch(n) {
    count = 0;
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK, n - done);
      chunk(k);
      done += k;
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
