// Group "dma-fence-4cb": native Promise create + four .then + resolve (same method as
// baseline-fence-promise.ts: microtasks drained every 1024 ops, hot loop in a sync helper).
// Retained: a pending promise with four reactions, held through its resolve function.
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
    void p.then(onResolve);
    void p.then(onResolve);
    void p.then(onResolve);
    resolve();
  }
}

export default defineCase({
  name: 'promise 4× .then',
  group: 'dma-fence-4cb',
  async batch(n) {
    count = 0;
    for (let done = 0; done < n; ) {
      const k = Math.min(CHUNK, n - done);
      chunk(k);
      done += k;
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await null;
    }
    return count / 4;
  },
  retain(n, holder) {
    for (let i = 0; i < n; i++) {
      let resolve!: () => void;
      const p = new Promise<void>((r) => {
        resolve = r;
      });
      void p.then(onResolve);
      void p.then(onResolve);
      void p.then(onResolve);
      void p.then(onResolve);
      holder[i] = resolve;
    }
    return n;
  },
});
