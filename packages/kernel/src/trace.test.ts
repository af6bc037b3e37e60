import { describe, expect, it } from 'vitest';
import { ChromeTraceSink, FtraceTextSink, MemoryTraceSink, Runtime, traceHash } from './index.js';

describe('tracing', () => {
  it('is disabled without a sink and records to every attached sink', async () => {
    const rt = new Runtime();
    expect(rt.trace.enabled).toBe(false);
    const mem = new MemoryTraceSink();
    const text = new FtraceTextSink();
    const detach = rt.trace.attach(mem);
    rt.trace.attach(text);
    expect(rt.trace.enabled).toBe(true);
    await rt.run(async () => {
      await rt.sleep(2);
      rt.trace.emit('irq:irq_handler_entry', { name: 'gt0' }, { lane: 'engine0' });
    });
    detach();
    rt.trace.emit('irq:irq_handler_entry', { name: 'after' });
    expect(mem.named('irq:irq_handler_entry').map((r) => [r.ts, r.lane, r.args.name])).toEqual([[2, 'engine0', 'gt0']]);
    expect(text.lines.some((l) => /engine0\s+0\.002000: irq:irq_handler_entry: name=gt0$/.test(l))).toBe(true);
    expect(text.lines.some((l) => l.includes('name=after'))).toBe(true);
  });

  it('renders Chrome trace JSON with one named thread per lane and µs timestamps', () => {
    const rt = new Runtime();
    const chrome = new ChromeTraceSink({ processName: 'sim' });
    rt.trace.attach(chrome);
    rt.trace.emit('irq:irq_handler_entry', { name: 'a' }, { lane: 'rcs0', ph: 'X', dur: 1.5, flow: { id: 7, dir: 'out' } });
    rt.trace.emit('irq:irq_handler_entry', { name: 'b' }, { lane: 'bcs0' });
    const json = chrome.toJSON();
    const names = json.traceEvents.filter((e) => e.name === 'thread_name').map((e) => e.args?.['name']);
    expect(names).toEqual(['rcs0', 'bcs0']);
    const slice = json.traceEvents.find((e) => e.ph === 'X')!;
    expect(slice.dur).toBe(1500);
    expect(slice.cat).toBe('irq');
    expect(json.traceEvents.some((e) => e.ph === 's' && e.id === 7)).toBe(true);
    expect(() => JSON.stringify(json)).not.toThrow();
  });

  it('hashes a trace stably and sensitively', () => {
    const rt = new Runtime();
    const mem = new MemoryTraceSink();
    rt.trace.attach(mem);
    rt.trace.emit('irq:irq_handler_entry', { name: 'x' });
    const h1 = traceHash(mem.records);
    expect(h1).toMatch(/^[0-9a-f]{16}$/);
    expect(traceHash([...mem.records])).toBe(h1);
    rt.trace.emit('irq:irq_handler_entry', { name: 'y' });
    expect(traceHash(mem.records)).not.toBe(h1);
  });
});

describe('tracing with an explicit timestamp', () => {
  it('records an X slice at its start time when emitted at its end', async () => {
    const rt = new Runtime();
    const mem = new MemoryTraceSink();
    rt.trace.attach(mem);
    await rt.run(async () => {
      const start = rt.now();
      await rt.sleep(4);
      rt.trace.emit('irq:irq_handler_entry', { name: 'batch' }, { ph: 'X', ts: start, dur: rt.now() - start, lane: 'rcs0' });
    });
    const r = mem.named('irq:irq_handler_entry')[0]!;
    expect([r.ts, r.dur, r.ph]).toEqual([0, 4, 'X']);
  });
});
