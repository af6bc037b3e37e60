import { isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { traced } from '../__fixtures__/sim.js';
import { createAieDevice } from './device.js';
import { isMessageId } from './mailbox.js';
import { MSG_ID_MAGIC, type AieConfig, type MailboxResponse } from './types.js';

function setup(config: AieConfig = {}) {
  const { rt, sink } = traced();
  const dev = createAieDevice(rt, { cost: { npu: { fixedMs: 0 } }, ...config });
  const log: Array<{ t: number; ctx: string; r: MailboxResponse }> = [];
  const handler = (r: MailboxResponse) => {
    log.push({ t: rt.now(), ctx: rt.context, r });
  };
  return { rt, sink, dev, log, handler };
}

function errCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isDepError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('AIE-like firmware', () => {
  it('creates a context on columns, runs a message and answers it in irq context', async () => {
    const { rt, dev, log, handler } = setup({ mgmtLatencyMs: 0.5, msgLatencyMs: 0.25 });
    const devIrqs: unknown[] = [];
    dev.requestIrq((ev) => devIrqs.push(ev));
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 2 }));
    expect(rt.now()).toBe(0.5);
    expect(ctx.state).toBe('ready');
    expect(ctx.columns).toEqual({ start: 0, count: 2 });
    const id = ctx.mailbox.send({ opcode: 'execbuf', units: 4 }, handler);
    expect(isMessageId(id)).toBe(true);
    expect(id & 0xff000000).toBe(MSG_ID_MAGIC);
    await rt.runUntilIdle();
    // Picked up after 0.25 ms, 4 units over 2 columns = 2 ms.
    expect(log).toEqual([{ t: 2.75, ctx: 'irq', r: { id, opcode: 'execbuf', status: 'ok', errno: 0, failedIndex: -1, data: [0, -1] } }]);
    expect(devIrqs).toEqual([{ kind: 'mailbox', ctx: ctx.id, responses: 1 }]);
    expect(ctx.runtimeMs()).toBe(2);
    expect(dev.busyMs(dev.engine('col1'))).toBe(2);
    expect(dev.busyMs(dev.engine('col2'))).toBe(0);
  });

  it('runs contexts on disjoint columns in parallel and refuses columns it does not have (ENOSPC)', async () => {
    const { rt, dev, log, handler } = setup({ mgmtLatencyMs: 0, msgLatencyMs: 0 });
    const a = await rt.run(() => dev.fw.createContext({ columns: 3 }));
    expect(errCode(() => dev.fw.createContext({ columns: 2 }))).toBe('ENOSPC');
    expect(dev.fw.contexts.length).toBe(1);
    const b = await rt.run(() => dev.fw.createContext({ columns: 1 }));
    expect(b.columns).toEqual({ start: 3, count: 1 });
    a.mailbox.send({ opcode: 'execbuf', units: 3 }, handler);
    b.mailbox.send({ opcode: 'execbuf', units: 1 }, handler);
    await rt.runUntilIdle();
    expect(log.map((l) => l.t)).toEqual([1, 1]);
  });

  it('reports ENOSPC when the host→device ring is full and EBUSY when all 256 ids are out; nothing is sent', async () => {
    const { rt, dev, handler } = setup({ x2iRingWords: 64 });
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 1 }));
    // execbuf takes 8 words: 8 fill the 64-word ring (the firmware has not picked any up yet).
    for (let i = 0; i < 8; i++) ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler);
    const before = { out: ctx.mailbox.outstanding, wptr: ctx.mailbox.x2i.wptr };
    expect(errCode(() => ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler))).toBe('ENOSPC');
    expect({ out: ctx.mailbox.outstanding, wptr: ctx.mailbox.x2i.wptr }).toEqual(before);
    // After the firmware takes the first message there is room again.
    await rt.advance(0.5);
    ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler);

    const big = setup({ x2iRingWords: 4096 });
    const c2 = await big.rt.run(() => big.dev.fw.createContext({ columns: 1 }));
    const ids = new Set<number>();
    for (let i = 0; i < 256; i++) ids.add(c2.mailbox.send({ opcode: 'config-cu', cus: 1 }, big.handler));
    expect(ids.size).toBe(256);
    expect(errCode(() => c2.mailbox.send({ opcode: 'config-cu', cus: 1 }, big.handler))).toBe('EBUSY');
    await big.rt.runUntilIdle();
    expect(big.log.length).toBe(256);
    expect(big.log.every((l) => l.r.status === 'ok')).toBe(true);
  });

  it('wraps the mailbox rings with tombstones and keeps message order', async () => {
    const { rt, dev, log, handler } = setup({ x2iRingWords: 32, i2xRingWords: 16, msgLatencyMs: 0 });
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 1 }));
    const sent: number[] = [];
    // chain of 5 = 4 + 2 + 10 = 16 words, execbuf = 8: the third message must skip to 0.
    for (let round = 0; round < 6; round++) {
      sent.push(ctx.mailbox.send({ opcode: 'chain', units: [1, 1, 1, 1, 1] }, handler));
      sent.push(ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler));
      await rt.runUntilIdle();
    }
    expect(ctx.mailbox.x2i.wraps).toBeGreaterThan(2);
    expect(log.map((l) => l.r.id)).toEqual(sent);
    expect(log.every((l) => l.r.status === 'ok')).toBe(true);
  });

  it('destroy aborts every pending message: each handler gets an aborted, no-data response', async () => {
    const { rt, dev, log, handler } = setup({ mgmtLatencyMs: 1 });
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 4 }));
    const ids = [0, 1, 2].map(() => ctx.mailbox.send({ opcode: 'execbuf', units: 200 }, handler)); // 50 ms each on 4 columns
    await rt.advance(5);
    expect(dev.fw.columns.free).toBe(0);
    const done = rt.run(() => ctx.destroy());
    expect(errCode(() => ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler))).toBe('ESHUTDOWN');
    await done;
    expect(log.map((l) => [l.ctx, l.r])).toEqual(
      ids.map((id) => ['irq', { id, opcode: 'execbuf', status: 'aborted', errno: -125, failedIndex: -1, data: null }]),
    );
    expect(ctx.state).toBe('destroyed');
    expect(dev.fw.columns.free).toBe(4);
    expect(dev.fw.contexts).toEqual([]);
    expect(errCode(() => ctx.destroy())).toBe('ENOENT');
  });

  it('recovers a hung context by destroying and re-creating it', async () => {
    const { rt, dev, log, handler } = setup();
    dev.faults.hang({ site: 'hwctx1' });
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 2 }));
    ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, handler);
    await rt.advance(60_000);
    expect(log).toEqual([]);
    await rt.run(() => ctx.destroy());
    expect(log.map((l) => l.r.status)).toEqual(['aborted']);
    const again = await rt.run(() => dev.fw.createContext({ columns: 2 }));
    again.mailbox.send({ opcode: 'execbuf', units: 1 }, handler);
    await rt.runUntilIdle();
    expect(log.map((l) => l.r.status)).toEqual(['aborted', 'ok']);
  });

  it('firmware errors: a failing chain names its index; a failed create frees its columns', async () => {
    const { rt, dev, log, handler } = setup();
    dev.faults.firmwareError({ site: 'aie:chain', nth: 2 });
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 1 }));
    ctx.mailbox.send({ opcode: 'chain', units: [1, 1, 1] }, handler);
    await rt.runUntilIdle();
    expect(log[0]!.r).toMatchObject({ status: 'error', errno: -5, failedIndex: 1, data: [5, 1] });
    dev.faults.firmwareError({ site: 'aie:create-context', status: 'EIO' });
    await expect(rt.run(() => dev.fw.createContext({ columns: 2 }))).rejects.toMatchObject({ code: 'EIO' });
    expect(dev.fw.columns.free).toBe(3);
    expect(dev.fw.contexts).toEqual([ctx]);
  });

  it('rejects bad input with EINVAL and changes nothing', async () => {
    const { rt, dev, handler } = setup();
    expect(errCode(() => dev.fw.createContext({ columns: 0 }))).toBe('EINVAL');
    expect(errCode(() => dev.fw.createContext({ columns: 5 }))).toBe('EINVAL');
    expect(dev.fw.columns.free).toBe(4);
    const ctx = await rt.run(() => dev.fw.createContext({ columns: 1 }));
    for (const bad of [{ opcode: 'execbuf', units: -1 }, { opcode: 'chain', units: [] }, { opcode: 'config-cu', cus: 0 }, { opcode: 'dance' }]) {
      expect(errCode(() => ctx.mailbox.send(bad as never, handler))).toBe('EINVAL');
    }
    expect(errCode(() => ctx.mailbox.send({ opcode: 'execbuf', units: 1 }, 3 as never))).toBe('EINVAL');
    expect(ctx.mailbox.outstanding).toBe(0);
    expect(ctx.mailbox.x2i.wptr).toBe(0);
  });
});
