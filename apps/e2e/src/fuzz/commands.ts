/**
 * The fast-check arbitraries of every fuzz command, weighted so that sequences build state
 * (objects, VMs, contexts, syncobjs) before they use and break it. About a third of the
 * generated calls are invalid ones.
 */
import fc from 'fast-check';
import { AxBoCreate, AxExecCmd, AxHwctxConfig, AxHwctxCreate, AxHwctxDestroy, AxWaitCmd, type AxBoVariant, type ExecCmdVariant, type HwctxConfigVariant, type HwctxCreateVariant, type WaitCmdVariant } from './commands-amdxdna.js';
import {
  FailAlloc,
  FlinkOpen,
  PrimeHold,
  PrimeImportHeld,
  TimelineSignal,
  TimelineWait,
  GemClose,
  PrimeShare,
  Reopen,
  SyncArray,
  SyncCreate,
  SyncDestroy,
  SyncFileShare,
  SyncShare,
  SyncTransfer,
  type PrimeVariant,
  type SyncArrayOp,
  type Target,
  type TransferVariant,
} from './commands-core.js';
import { PtBoCreate, PtGroupCreate, PtGroupDestroy, PtSubmit, PtVmBind, PtVmCreate, PtVmDestroy, type GroupCreateVariant, type PtBoVariant, type PtVmCreateVariant } from './commands-panthor.js';
import {
  XeBoCreate,
  XeExec,
  XeQueueCreate,
  XeQueueDestroy,
  XeVmBind,
  XeVmCreate,
  XeVmDestroy,
  type BindVariant,
  type QueueCreateVariant,
  type SubmitVariant,
  type XeBoVariant,
  type XeVmCreateVariant,
} from './commands-xe.js';
import type { Cmd } from './harness.js';
import { SubmitThenTeardown, type Teardown } from './commands-midflight.js';
import { BindPair } from './commands-binds.js';
import { VA_SLOTS } from './model.js';
import { FILES_PER_DEVICE, type DeviceIndex } from './world.js';

const file = fc.nat(FILES_PER_DEVICE - 1);
const device = fc.constantFrom<DeviceIndex>(0, 1, 2);
const target: fc.Arbitrary<Target> = fc.record({ d: device, f: file });
const idx = fc.nat(7);
const bad = fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 });
const pages = fc.integer({ min: 1, max: 4 });
const units = fc.integer({ min: 1, max: 16 });
const slot = fc.nat(VA_SLOTS - 1);
const maybeIdx = fc.option(idx, { nil: null });

/** Mostly the valid variant, sometimes one of the invalid ones. */
function variant<T extends string>(ok: T, ...invalid: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(ok), weight: 3 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
}

type CmdArb = fc.Arbitrary<Cmd>;

function weighted(weight: number, arbitrary: CmdArb): { arbitrary: CmdArb; weight: number } {
  return { arbitrary, weight };
}

/** Core commands (every device). */
const core: Array<{ arbitrary: CmdArb; weight: number }> = [
  weighted(2, fc.tuple(target, idx, bad).map(([t, i, b]) => new GemClose(t, i, b))),
  weighted(1, fc.tuple(target, file, idx, bad).map(([t, to, i, b]) => new FlinkOpen(t, to, i, b))),
  weighted(3, fc.tuple(target, target, idx, variant<PrimeVariant>('ok', 'bogus', 'flags', 'closed-fd')).map(([t, to, i, v]) => new PrimeShare(t, to, i, v))),
  weighted(3, fc.tuple(target, fc.boolean(), fc.boolean()).map(([t, s, b]) => new SyncCreate(t, s, b && s))),
  weighted(1, fc.tuple(target, idx, bad).map(([t, i, b]) => new SyncDestroy(t, i, b))),
  weighted(
    2,
    fc
      .tuple(fc.constantFrom<SyncArrayOp>('signal', 'reset', 'wait', 'waitAll'), target, fc.array(idx, { minLength: 1, maxLength: 3 }), bad)
      .map(([op, t, p, b]) => new SyncArray(op, t, p, b)),
  ),
  weighted(1, fc.tuple(target, target, idx, bad).map(([t, to, i, b]) => new SyncShare(t, to, i, b))),
  weighted(1, fc.tuple(target, idx, idx, variant<TransferVariant>('ok', 'bad-src', 'bad-dst', 'flags')).map(([t, s, d, v]) => new SyncTransfer(t, s, d, v))),
  weighted(
    1,
    fc.tuple(target, target, idx, idx, fc.constantFrom<'none' | 'src' | 'dst'>('none', 'none', 'src', 'dst')).map(([t, to, s, d, b]) => new SyncFileShare(t, to, s, d, b)),
  ),
  weighted(1, target.map((t) => new Reopen(t))),
  weighted(3, fc.integer({ min: 1, max: 6 }).map((n) => new FailAlloc(n))),
  weighted(1, fc.tuple(target, idx).map(([t, i]) => new PrimeHold(t, i))),
  weighted(2, fc.tuple(target, idx, fc.integer({ min: 1, max: 3 }), bad).map(([t, i, s, b]) => new TimelineSignal(t, i, s, b))),
  weighted(1, fc.tuple(target, idx, fc.integer({ min: 1, max: 6 })).map(([t, i, p]) => new TimelineWait(t, i, p))),
  weighted(1, fc.tuple(idx, target, fc.boolean()).map(([k, t, c]) => new PrimeImportHeld(k, t, c))),
];

const xe: Array<{ arbitrary: CmdArb; weight: number }> = [
  weighted(3, fc.tuple(file, pages, variant<XeBoVariant>('plain', 'private', 'unaligned', 'zero', 'huge', 'flags', 'bad-vm'), idx).map(([f, p, v, i]) => new XeBoCreate(f, p, v, i))),
  weighted(2, fc.tuple(file, fc.constantFrom<XeVmCreateVariant>('ok', 'ok', 'ok', 'lr', 'lr', 'flags', 'fault-without-lr')).map(([f, v]) => new XeVmCreate(f, v))),
  weighted(1, fc.tuple(file, idx, bad).map(([f, i, b]) => new XeVmDestroy(f, i, b))),
  weighted(
    3,
    fc
      .tuple(file, idx, fc.boolean(), slot, idx, variant<BindVariant>('ok', 'bad-vm', 'bad-bo', 'misaligned', 'offset', 'flags'))
      .map(([f, v, mp, s, b, x]) => new XeVmBind(f, v, mp || s === 0, s, b, x)),
  ),
  weighted(2, fc.tuple(file, idx, fc.nat(3), variant<QueueCreateVariant>('ok', 'bad-vm', 'instance', 'width')).map(([f, v, c, x]) => new XeQueueCreate(f, v, c, x))),
  weighted(1, fc.tuple(file, idx, bad).map(([f, i, b]) => new XeQueueDestroy(f, i, b))),
  weighted(
    3,
    fc
      .tuple(file, idx, units, maybeIdx, maybeIdx, variant<SubmitVariant>('ok', 'no-batch', 'bad-ctx', 'bad-out', 'bad-in', 'flags'))
      .map(([f, q, u, o, i, v]) => new XeExec(f, q, u, o, i, v)),
  ),
];

const panthor: Array<{ arbitrary: CmdArb; weight: number }> = [
  weighted(3, fc.tuple(file, pages, variant<PtBoVariant>('plain', 'private', 'odd', 'zero', 'huge', 'flags', 'bad-vm'), idx).map(([f, p, v, i]) => new PtBoCreate(f, p, v, i))),
  weighted(2, fc.tuple(file, variant<PtVmCreateVariant>('ok', 'flags', 'range')).map(([f, v]) => new PtVmCreate(f, v))),
  weighted(1, fc.tuple(file, idx, bad).map(([f, i, b]) => new PtVmDestroy(f, i, b))),
  weighted(
    3,
    fc
      .tuple(file, idx, fc.boolean(), slot, idx, variant<BindVariant>('ok', 'async', 'async', 'bad-vm', 'bad-bo', 'misaligned', 'offset', 'flags'))
      .map(([f, v, mp, s, b, x]) => new PtVmBind(f, v, mp || s === 0, s, b, x)),
  ),
  weighted(2, fc.tuple(file, idx, variant<GroupCreateVariant>('ok', 'bad-vm', 'priority', 'ring')).map(([f, v, x]) => new PtGroupCreate(f, v, x))),
  weighted(1, fc.tuple(file, idx, bad).map(([f, i, b]) => new PtGroupDestroy(f, i, b))),
  weighted(
    3,
    fc
      .tuple(file, idx, units, maybeIdx, maybeIdx, variant<SubmitVariant>('ok', 'batch', 'batch', 'bad-ctx', 'bad-out', 'bad-in', 'flags'))
      .map(([f, g, u, o, i, v]) => new PtSubmit(f, g, u, o, i, v)),
  ),
];

const amdxdna: Array<{ arbitrary: CmdArb; weight: number }> = [
  weighted(4, fc.tuple(file, pages, fc.nat(3), variant<AxBoVariant>('ok', 'flags', 'vaddr', 'type', 'zero', 'huge')).map(([f, p, t, v]) => new AxBoCreate(f, p, t, v))),
  weighted(2, fc.tuple(file, variant<HwctxCreateVariant>('ok', 'tiles', 'ext')).map(([f, v]) => new AxHwctxCreate(f, v))),
  weighted(1, fc.tuple(file, idx, bad).map(([f, i, b]) => new AxHwctxDestroy(f, i, b))),
  weighted(2, fc.tuple(file, idx, idx, variant<HwctxConfigVariant>('ok', 'bad-ctx', 'param', 'unknown-param', 'no-cus')).map(([f, i, c, v]) => new AxHwctxConfig(f, i, c, v))),
  weighted(3, fc.tuple(file, idx, idx, units, variant<ExecCmdVariant>('ok', 'args', 'args', 'bad-ctx', 'not-cmd', 'bad-arg')).map(([f, i, c, u, v]) => new AxExecCmd(f, i, c, u, v))),
  weighted(1, fc.tuple(file, idx, idx, variant<WaitCmdVariant>('ok', 'bad-ctx', 'zero', 'future')).map(([f, i, s, v]) => new AxWaitCmd(f, i, s, v))),
];

const midflight: Array<{ arbitrary: CmdArb; weight: number }> = [
  weighted(
    2,
    fc.tuple(fc.constantFrom<0 | 1>(0, 1), file, idx, idx, slot, slot, bad).map(([d, f, v, b, a, u, x]) => new BindPair(d, f, v, b, a, u, x)),
  ),
  weighted(
    3,
    fc.tuple(device, file, idx, idx, units, fc.constantFrom<Teardown>('ctx', 'vm', 'file')).map(([d, f, c, o, u, t]) => new SubmitThenTeardown(d, f, c, o, u, t)),
  ),
];

/** Every command, weighted. */
export const allCommands: CmdArb[] = [...core, ...xe, ...panthor, ...amdxdna, ...midflight].flatMap(({ arbitrary, weight }) => Array.from({ length: weight }, () => arbitrary));

/**
 * The fixed prefix of every sequence, made of valid commands (so the model follows it):
 * each client starts with something to use — xe and panthor a VM with a private BO mapped
 * at slot 0 and an exec queue / group on it; amdxdna a heap, a DEV and a CMD BO and a
 * configured context; everyone a signalled syncobj. The random part then reaches submits
 * and teardown paths without first having to build that state by chance.
 */
export function bootstrap(): Cmd[] {
  const out: Cmd[] = [];
  for (let f = 0; f < FILES_PER_DEVICE; f++) {
    out.push(new XeVmCreate(f, 'ok'), new XeBoCreate(f, 1, 'private', 0), new XeVmBind(f, 0, true, 0, 0, 'ok'), new XeQueueCreate(f, 0, 0, 'ok'));
    out.push(new PtVmCreate(f, 'ok'), new PtBoCreate(f, 1, 'private', 0), new PtVmBind(f, 0, true, 0, 0, 'ok'), new PtGroupCreate(f, 0, 'ok'));
    out.push(new AxBoCreate(f, 16, 1, 'ok'), new AxBoCreate(f, 1, 2, 'ok'), new AxBoCreate(f, 1, 3, 'ok'), new AxHwctxCreate(f, 'ok'), new AxHwctxConfig(f, 0, 0, 'ok'));
    for (const d of [0, 1, 2] as const) out.push(new SyncCreate({ d, f }, true, false));
  }
  return out;
}
