/**
 * The fence wait-for graph: which fence's completion waits on which. No kernel has it.
 *
 * Upper layers declare edges through one call, {@link fenceWaitsOn} (a job's dependency,
 * an array or chain member, a preempt gate, a hardware semaphore). The moment an edge
 * closes a cycle, the fences in it can never signal: that is reported at once (kind
 * `fence-cycle`), every fence by `driver:timeline context:seqno` with the reason of each
 * edge. A watchdog on the runtime's stall hook lists, for every fence a blocked task
 * waits on while nothing can run, its wait-for chain.
 *
 * Cost: with checks `off`, nothing (one shared no-op handle). In checked mode, an edge is
 * O(1) when it agrees with the incremental topological order kept by the graph (new
 * fences waiting on older ones: the usual case); otherwise a bounded search of the
 * affected region (Pearce–Kelly). Signalling a fence drops every edge it has.
 */
import { DepError, type BlockedWait, type Runtime } from '@dep/kernel';
import { DmaFence, type Fence } from './fence.js';
import { F_CHECKED, F_PUBLISHED, F_SIGNALED, F_WFG } from './flags.js';
import { fenceLabel } from './locking.js';

/** A declared "waiter waits on waitee" edge; {@link FenceWait.remove} drops it. */
export interface FenceWait {
  /** The fence whose completion waits (null on the no-op handle of checks `off`). */
  readonly waiter: Fence | null;
  /** The fence it waits on. */
  readonly waitee: Fence | null;
  readonly reason: string;
  /** True while recorded: not removed, neither fence signalled. */
  readonly active: boolean;
  /** True if this edge closed a cycle (it was reported). */
  readonly cyclic: boolean;
  /** Drop the edge (the dependency is gone). Idempotent. */
  remove(): void;
}

const NOOP_WAIT: FenceWait = Object.freeze({
  waiter: null,
  waitee: null,
  reason: '',
  active: false,
  cyclic: false,
  remove(): void {},
});

class Edge implements FenceWait {
  readonly from: Node;
  readonly to: Node;
  readonly reason: string;
  cyclic = false;
  active = true;
  /** Neighbours on `from`'s list of out-edges and on `to`'s list of in-edges (insertion order). */
  prevOut: Edge | null = null;
  nextOut: Edge | null = null;
  prevIn: Edge | null = null;
  nextIn: Edge | null = null;
  constructor(from: Node, to: Node, reason: string) {
    this.from = from;
    this.to = to;
    this.reason = reason;
  }
  get waiter(): Fence {
    return this.from.fence;
  }
  get waitee(): Fence {
    return this.to.fence;
  }
  remove(): void {
    if (!this.active) return;
    this.from.graph.unlink(this);
  }
}

class Node {
  readonly graph: WaitForGraph;
  readonly fence: DmaFence;
  /** Position in the topological order: a fence's waitees have smaller `ord`. */
  ord: number;
  /**
   * Edges "this waits on …" (through Edge.nextOut) and "… waits on this" (through
   * Edge.nextIn), each an intrusive list in insertion order: no Set per node.
   */
  outHead: Edge | null = null;
  outTail: Edge | null = null;
  inHead: Edge | null = null;
  inTail: Edge | null = null;
  constructor(graph: WaitForGraph, fence: DmaFence, ord: number) {
    this.graph = graph;
    this.fence = fence;
    this.ord = ord;
  }

  /** The out-edges, in insertion order. */
  outEdges(): Edge[] {
    const out: Edge[] = [];
    for (let e = this.outHead; e !== null; e = e.nextOut) out.push(e);
    return out;
  }

  /** The in-edges, in insertion order. */
  inEdges(): Edge[] {
    const out: Edge[] = [];
    for (let e = this.inHead; e !== null; e = e.nextIn) out.push(e);
    return out;
  }
}

/** Base of {@link NodeSlot}: its constructor returns the object it is given. */
class ReturnsObject {
  constructor(obj: object) {
    return obj;
  }
}

/**
 * A fence's graph node, in a private slot stamped onto the fence the first time it gets
 * an edge (checked mode only): no weak-map entry per fence (a WeakMap keyed by
 * short-lived fences costs about a microsecond per fence in GC work once it holds many),
 * and fences that never get an edge keep their shape. Private names are invisible to
 * reflection and equality checks. The node points at the fence and the fence at the
 * node: both go together.
 */
class NodeSlot extends ReturnsObject {
  #node: Node | null;

  private constructor(f: DmaFence, node: Node | null) {
    super(f);
    this.#node = node;
  }

  static read(f: DmaFence): Node | null {
    return #node in f ? f.#node : null;
  }

  static write(f: DmaFence, node: Node | null): void {
    if (#node in f) f.#node = node;
    else new NodeSlot(f, node);
  }
}

const GRAPH_KEY = Symbol('@dep/dma-fence:wait-for-graph');

/** Per-runtime wait-for graph (checked mode). */
class WaitForGraph {
  readonly rt: Runtime;
  /** Next order number above (new waiters) and below (new waitees) every node's. */
  #nextOrd = 0;
  #lowOrd = -1;
  /** Number of live edges (for tests and reports). */
  edges = 0;

  constructor(rt: Runtime) {
    this.rt = rt;
    rt.onStall((blocked) => this.#watchdog(blocked));
  }

  /** The fence's node in this graph, or null. */
  #lookup(f: DmaFence): Node | null {
    const n = NodeSlot.read(f);
    return n !== null && n.graph === this ? n : null;
  }

  /**
   * The fence's node, made on first use. A new node has no edges, so any free position in
   * the topological order is valid: a waiter goes above every node, a waitee below, so the
   * edge being added already agrees with the order (no reordering for fresh fences, in
   * whatever order they are made).
   */
  #node(f: DmaFence, waiter: boolean): Node {
    let n = this.#lookup(f);
    if (n === null) {
      n = new Node(this, f, waiter ? this.#nextOrd++ : this.#lowOrd--);
      NodeSlot.write(f, n);
      f._flags |= F_WFG;
    }
    return n;
  }

  add(waiter: DmaFence, waitee: DmaFence, reason: string): Edge {
    const w = this.#node(waiter, true);
    const e = this.#node(waitee, false);
    const edge = new Edge(w, e, reason);
    const cycle = w === e ? [] : this.#order(w, e);
    if (cycle !== null) {
      // Keep the edge for the watchdog, outside the order.
      edge.cyclic = true;
      this.#link(edge);
      this.#reportCycle(edge, cycle);
      return edge;
    }
    this.#link(edge);
    return edge;
  }

  #link(edge: Edge): void {
    const from = edge.from;
    const to = edge.to;
    edge.prevOut = from.outTail;
    if (from.outTail === null) from.outHead = edge;
    else from.outTail.nextOut = edge;
    from.outTail = edge;
    edge.prevIn = to.inTail;
    if (to.inTail === null) to.inHead = edge;
    else to.inTail.nextIn = edge;
    to.inTail = edge;
    this.edges++;
  }

  unlink(edge: Edge): void {
    if (!edge.active) return;
    edge.active = false;
    const from = edge.from;
    const to = edge.to;
    if (edge.prevOut === null) from.outHead = edge.nextOut;
    else edge.prevOut.nextOut = edge.nextOut;
    if (edge.nextOut === null) from.outTail = edge.prevOut;
    else edge.nextOut.prevOut = edge.prevOut;
    if (edge.prevIn === null) to.inHead = edge.nextIn;
    else edge.prevIn.nextIn = edge.nextIn;
    if (edge.nextIn === null) to.inTail = edge.prevIn;
    else edge.nextIn.prevIn = edge.prevIn;
    edge.prevOut = edge.nextOut = edge.prevIn = edge.nextIn = null;
    this.edges--;
    this.#maybeDrop(edge.from);
    this.#maybeDrop(edge.to);
  }

  #maybeDrop(n: Node): void {
    if (n.outHead === null && n.inHead === null && this.#lookup(n.fence) === n) {
      NodeSlot.write(n.fence, null);
      n.fence._flags &= ~F_WFG;
    }
  }

  /** The fence signalled: every edge from or to it is satisfied. */
  signalled(f: DmaFence): void {
    const n = this.#lookup(f);
    if (n === null) return;
    // Walk the intrusive lists, taking each next link before unlink clears it: no copies.
    for (let e = n.outHead; e !== null; ) {
      const next = e.nextOut;
      this.unlink(e);
      e = next;
    }
    for (let e = n.inHead; e !== null; ) {
      const next = e.nextIn;
      this.unlink(e);
      e = next;
    }
    if (this.#lookup(f) === n) NodeSlot.write(f, null);
  }

  /** Live out-edges of a fence. */
  outOf(f: DmaFence): readonly Edge[] {
    const n = this.#lookup(f);
    return n === null ? [] : n.outEdges();
  }

  /**
   * Pearce–Kelly: make room for "w waits on e" (e must come before w). Returns null when
   * the order now holds, or the path of edges e → … → w (each "waits on") that the new
   * edge would close into a cycle.
   */
  #order(w: Node, e: Node): Edge[] | null {
    if (e.ord < w.ord) return null;
    const lb = w.ord;
    const ub = e.ord;
    // δF: w and everything that (transitively) waits on w, with ord < ub. Reaching e is a cycle.
    const deltaF: Node[] = [];
    const parent = new Map<Node, Edge>();
    const seenF = new Set<Node>([w]);
    const stack: Node[] = [w];
    while (stack.length > 0) {
      const n = stack.pop()!;
      deltaF.push(n);
      for (let edge = n.inHead; edge !== null; edge = edge.nextIn) {
        if (edge.cyclic) continue;
        const m = edge.from;
        if (m === e) {
          // e waits on … waits on w: walk back from n to w.
          const path: Edge[] = [edge];
          let cur = n;
          while (cur !== w) {
            const pe = parent.get(cur)!;
            path.push(pe);
            cur = pe.to;
          }
          return path;
        }
        if (m.ord < ub && !seenF.has(m)) {
          seenF.add(m);
          parent.set(m, edge);
          stack.push(m);
        }
      }
    }
    // δB: e and everything e (transitively) waits on, with ord > lb.
    const deltaB: Node[] = [];
    const seenB = new Set<Node>([e]);
    stack.push(e);
    while (stack.length > 0) {
      const n = stack.pop()!;
      deltaB.push(n);
      for (let edge = n.outHead; edge !== null; edge = edge.nextOut) {
        if (edge.cyclic) continue;
        const m = edge.to;
        if (m.ord > lb && !seenB.has(m)) {
          seenB.add(m);
          stack.push(m);
        }
      }
    }
    // δB before δF, reusing their positions.
    deltaB.sort((a, b) => a.ord - b.ord);
    deltaF.sort((a, b) => a.ord - b.ord);
    const ords = [...deltaB, ...deltaF].map((n) => n.ord).sort((a, b) => a - b);
    let i = 0;
    for (const n of deltaB) n.ord = ords[i++]!;
    for (const n of deltaF) n.ord = ords[i++]!;
    return null;
  }

  #reportCycle(edge: Edge, path: Edge[]): void {
    const cycle = [edge, ...path];
    const fences = cycle.map((c) => fenceLabel(c.from.fence));
    const details = cycle.map((c) => `${fenceLabel(c.from.fence)} waits on ${fenceLabel(c.to.fence)} (${c.reason})`);
    details.push('none of these fences can signal before another of them does: break one of the dependencies (or signal one with an error)');
    this.rt.reports.report('fence-cycle', `fence wait-for cycle: ${fences.join(' -> ')} -> ${fences[0]}`, details);
  }

  #watchdog(blocked: readonly BlockedWait[]): string[] {
    const lines: string[] = [];
    const listed = new Set<DmaFence>();
    for (const b of blocked) {
      const obj = b.object;
      const fences: DmaFence[] = obj instanceof DmaFence ? [obj] : Array.isArray(obj) ? obj.filter((x): x is DmaFence => x instanceof DmaFence) : [];
      for (const f of fences) {
        if ((f._flags & F_SIGNALED) !== 0 || f.runtime !== this.rt || listed.has(f)) continue;
        listed.add(f);
        const pub = (f._flags & F_PUBLISHED) !== 0 ? 'published' : 'unpublished';
        lines.push(`fence ${fenceLabel(f)} (${pub}, unsignalled) is waited on by ${b.task.toString()} (${b.reason}) and nothing can run; its wait-for chain:`);
        this.#chain(f, '  ', new Set(), lines);
      }
    }
    return lines;
  }

  #chain(f: DmaFence, indent: string, path: Set<DmaFence>, lines: string[]): void {
    const out = this.outOf(f);
    if (out.length === 0) {
      lines.push(`${indent}${fenceLabel(f)} waits on no recorded fence: only its issuer can signal it, and nothing runnable will`);
      return;
    }
    path.add(f);
    for (const e of out) {
      const to = e.to.fence;
      if (path.has(to)) {
        lines.push(`${indent}${fenceLabel(f)} waits on ${fenceLabel(to)} (${e.reason}): a cycle`);
        continue;
      }
      lines.push(`${indent}${fenceLabel(f)} waits on ${fenceLabel(to)} (${e.reason})`);
      this.#chain(to, `${indent}  `, path, lines);
    }
    path.delete(f);
  }
}

/** @internal The runtime's graph, made (with its watchdog) on first use. Checked mode only. */
export function ensureWaitForGraph(rt: Runtime): WaitForGraph {
  if (rt === lastGraphRt) return lastGraph!;
  const g = rt.subsystem(GRAPH_KEY, (r) => new WaitForGraph(r));
  lastGraphRt = rt;
  lastGraph = g;
  return g;
}

/** The graph {@link ensureWaitForGraph} returned last, and its runtime (one runtime at a time is the common case). */
let lastGraphRt: Runtime | null = null;
let lastGraph: WaitForGraph | null = null;

/** @internal Called from signal when the fence carries `F_WFG`. */
export function graphFenceSignalled(f: DmaFence): void {
  ensureWaitForGraph(f.runtime).signalled(f);
}

/**
 * Declare that `waiter`'s completion waits on `waitee` (a job on its dependency, an array
 * on a member, a chain node on its fence or predecessor, a preempt fence on its gate),
 * for `reason` (shown in reports). Returns a handle whose `remove()` drops the edge; the
 * edge also goes away when either fence signals. If the edge closes a cycle, a
 * `fence-cycle` report names every fence in it and the reason of every edge (it throws in
 * strict mode). Checks `off`: does nothing and returns a shared no-op handle.
 */
export function fenceWaitsOn(waiter: Fence, waitee: Fence, reason: string): FenceWait {
  if (!(waiter instanceof DmaFence) || !(waitee instanceof DmaFence)) {
    throw new DepError('EINVAL', 'fenceWaitsOn(waiter, waitee, reason): waiter and waitee must be fences');
  }
  if (typeof reason !== 'string' || reason.length === 0) {
    throw new DepError('EINVAL', 'fenceWaitsOn(waiter, waitee, reason): say why it waits (e.g. "job dependency"), a non-empty string');
  }
  if (waiter.runtime !== waitee.runtime) {
    throw new DepError('EINVAL', `fenceWaitsOn: ${fenceLabel(waiter)} and ${fenceLabel(waitee)} belong to different runtimes; a wait-for edge joins fences of one runtime`);
  }
  if ((waiter._flags & F_CHECKED) === 0) return NOOP_WAIT;
  if ((waiter._flags & F_SIGNALED) !== 0 || (waitee._flags & F_SIGNALED) !== 0) {
    return { waiter, waitee, reason, active: false, cyclic: false, remove(): void {} };
  }
  return ensureWaitForGraph(waiter.runtime).add(waiter, waitee, reason);
}

/** Drop a declared edge (same as `wait.remove()`). */
export function removeFenceWait(wait: FenceWait): void {
  wait.remove();
}

/**
 * The recorded edges "fence waits on …" of a fence (live ones), for tools and tests.
 * Empty with checks `off`.
 */
export function fenceWaitsOf(fence: Fence): readonly FenceWait[] {
  if (!(fence instanceof DmaFence)) throw new DepError('EINVAL', 'fenceWaitsOf(fence): pass a fence');
  if ((fence._flags & F_CHECKED) === 0 || (fence._flags & F_WFG) === 0) return [];
  return ensureWaitForGraph(fence.runtime).outOf(fence);
}
