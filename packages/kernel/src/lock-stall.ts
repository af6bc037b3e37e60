import type { BlockedWait, Runtime } from './runtime.js';
import type { Task } from './task.js';

/** A sleeping lock that the stall report can describe (Mutex, WwMutex). */
export interface OwnedLock {
  readonly name: string;
  readonly owner: Task | null;
  toString(): string;
}

const OWNED_LOCK = Symbol.for('@dep/kernel/owned-lock');
const STALL_HOOK = Symbol('@dep/kernel/lock-stall-hook');

/** @internal Mark a lock class's prototype as one the stall report describes. */
export function markOwnedLock(proto: object): void {
  Object.defineProperty(proto, OWNED_LOCK, { value: true });
}

/** @internal Install the lock part of the stall report on `rt` (once). */
export function registerOwnedLock(rt: Runtime): void {
  rt.subsystem(STALL_HOOK, (r) => r.onStall(lockStallLines));
}

function isOwnedLock(o: unknown): o is OwnedLock {
  return typeof o === 'object' && o !== null && (o as Record<symbol, unknown>)[OWNED_LOCK] === true;
}

/**
 * The lock part of a stall report: for every task blocked on a sleeping lock, who owns it;
 * and every wait-for cycle through lock owners ("task A waits for m1 owned by B, which
 * waits for m2 owned by A"), which is the deadlock lockdep would have predicted.
 */
export function lockStallLines(blocked: readonly BlockedWait[]): string[] {
  const lines: string[] = [];
  const waitOf = new Map<Task, BlockedWait>();
  for (const b of blocked) waitOf.set(b.task, b);
  for (const b of blocked) {
    const o = b.object;
    if (!isOwnedLock(o)) continue;
    const owner = o.owner;
    const ownerWait = owner !== null ? waitOf.get(owner) : undefined;
    lines.push(
      `${b.task.toString()} waits for ${o.toString()} owned by ${owner === null ? 'nobody' : `${owner.toString()} (${ownerWait !== undefined ? `blocked: ${ownerWait.reason}` : owner.state})`}`,
    );
  }
  const reported = new Set<Task>();
  for (const b of blocked) {
    if (reported.has(b.task)) continue;
    const path: Task[] = [];
    const chain: string[] = [];
    let t: Task | undefined = b.task;
    while (t !== undefined && !path.includes(t)) {
      path.push(t);
      const w = waitOf.get(t);
      if (w === undefined || !isOwnedLock(w.object) || w.object.owner === null) {
        t = undefined;
        break;
      }
      chain.push(`${t.toString()} -> ${w.object.toString()}`);
      t = w.object.owner;
    }
    if (t === undefined) continue;
    const start = path.indexOf(t);
    const cycle = path.slice(start);
    if (cycle.some((c) => reported.has(c))) continue;
    for (const c of cycle) reported.add(c);
    lines.push(`deadlock: ${chain.slice(start).join(' -> ')} -> ${t.toString()}`);
  }
  return lines;
}
