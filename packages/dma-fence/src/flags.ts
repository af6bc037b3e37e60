/**
 * Fence flag bits, numbered as the kernel numbers them (`enum dma_fence_flag_bits`), plus
 * the INACTIVE bit of the `dma_fence_init_inactive()` proposal (rfc-designs E.2).
 *
 * `fence.flags` is a bit mask: bit `n` is `1 << n`. Drivers own the bits from
 * {@link FenceFlag.USER_BITS} up to bit 15 (drm_sched uses USER_BITS for DONT_PIPELINE and
 * USER_BITS + 1 for HAS_DEADLINE); bits above 15 are private to this package.
 */
export const FenceFlag = {
  /** Set by init. */
  INITIALIZED: 0,
  /** The inline lock is in use (always, in this port: external locks are legacy). */
  INLINE_LOCK: 1,
  /** Plain 64-bit seqno compare (`init64`). */
  SEQNO64: 2,
  /** The fence has signalled. */
  SIGNALED: 3,
  /** The timestamp is valid (set right after SIGNALED). */
  TIMESTAMP: 4,
  /** `enableSignaling` might have been called. */
  ENABLE_SIGNAL: 5,
  /** Armed but not pushed: waits, callbacks and containers reject it (rfc-designs E.2). */
  INACTIVE: 6,
  /** First bit free for the fence's issuer. */
  USER_BITS: 7,
} as const;

/** The highest bit number a driver may use (`USER_BITS`…15 are the driver's). */
export const FENCE_FLAG_USER_MAX = 15;

// --- masks (internal) ---------------------------------------------------------------
export const F_INITIALIZED = 1 << 0;
export const F_INLINE_LOCK = 1 << 1;
export const F_SEQNO64 = 1 << 2;
export const F_SIGNALED = 1 << 3;
export const F_TIMESTAMP = 1 << 4;
export const F_ENABLE_SIGNAL = 1 << 5;
export const F_INACTIVE = 1 << 6;
/** Mask of the bits a driver may set and clear. */
export const F_USER_MASK = ((1 << (FENCE_FLAG_USER_MAX + 1)) - 1) & ~((1 << FenceFlag.USER_BITS) - 1);

// Private bits (never part of the kernel's flags word).
/** The runtime's checks are on: take the slow, checked paths. */
export const F_CHECKED = 1 << 20;
/** The inline lock is held. */
export const F_LOCKED = 1 << 21;
/** The fence is a node of the wait-for graph. */
export const F_WFG = 1 << 22;
/** `publish()` handed out the read-only view. */
export const F_PUBLISHED = 1 << 23;
/** The fence's lock has its own lockdep class (init option `lockClass`). */
export const F_LOCK_CLASS = 1 << 24;
/** The last reference was put. */
export const F_RELEASED = 1 << 25;
/**
 * The ops have neither `release` nor `wait`: signalling detaches them. Read once from the
 * ops at init (ops are constant, like the kernel's `const struct dma_fence_ops`).
 */
export const F_OPS_DETACH = 1 << 26;
/**
 * `ops.enableSignaling` is still to be called: set at init when the ops have one (read
 * once, as {@link F_OPS_DETACH}), cleared when signalling is first enabled. Without it,
 * enabling signalling is just the ENABLE_SIGNAL bit.
 */
export const F_ENABLE_DUE = 1 << 27;
/** The fence is a container (array or chain node): its ops were marked with `markContainerOps`. */
export const F_CONTAINER = 1 << 28;
/** Mask of the bits `fence.flags` shows. */
export const F_PUBLIC_MASK = (1 << 16) - 1;
