import { DepError } from './error.js';

/** Memory an {@link IosysMap} can view. */
export type IosysBuffer = ArrayBuffer | SharedArrayBuffer;

/** Integer types of {@link IosysMap.rd} / {@link IosysMap.wr} (little-endian, like the GPUs modelled). */
export type IosysType = 'u8' | 's8' | 'u16' | 's16' | 'u32' | 's32' | 'u64' | 's64';
/** The types read and written as `number`. */
export type IosysNumberType = Exclude<IosysType, 'u64' | 's64'>;
/** The types read and written as `bigint`. */
export type IosysBigintType = 'u64' | 's64';

/** Options of an {@link IosysMap}. */
export interface IosysMapOptions {
  /** Start of the view in the buffer, in bytes. Default 0. */
  readonly offset?: number;
  /** Length of the view in bytes. Default: to the end of the buffer. */
  readonly length?: number;
  /** I/O memory (`vaddr_iomem`, e.g. a BAR) rather than system memory. Default false. */
  readonly isIomem?: boolean;
  /** Writes through this view (and every view made from it) fail with EACCES. Default false. */
  readonly readonly?: boolean;
}

const SIZE: Record<IosysType, number> = { u8: 1, s8: 1, u16: 2, s16: 2, u32: 4, s32: 4, u64: 8, s64: 8 };
const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface BufferViews {
  readonly dv: DataView;
  readonly bytes: Uint8Array;
  u64: BigUint64Array | null;
}

/** One DataView / Uint8Array per buffer, shared by every map over it. */
const viewCache = new WeakMap<IosysBuffer, BufferViews>();

function viewsOf(buffer: IosysBuffer): BufferViews {
  let v = viewCache.get(buffer);
  if (v === undefined) {
    v = { dv: new DataView(buffer), bytes: new Uint8Array(buffer), u64: null };
    viewCache.set(buffer, v);
  }
  return v;
}

function bufferKind(b: unknown): 'ArrayBuffer' | 'SharedArrayBuffer' | null {
  const tag = Object.prototype.toString.call(b);
  if (tag === '[object ArrayBuffer]') return 'ArrayBuffer';
  if (tag === '[object SharedArrayBuffer]') return 'SharedArrayBuffer';
  return null;
}

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n);
}

/**
 * `struct iosys_map`: a view of memory that may be system memory or I/O memory, over an
 * `ArrayBuffer` or `SharedArrayBuffer`, with the kernel's accessors (`iosys_map_rd/wr`,
 * `memcpy_to/from`, `memset`, `incr`, `IOSYS_MAP_INIT_OFFSET`) plus atomic 64-bit
 * load/store for seqno slots shared with another agent (a GPU model, a worker thread).
 *
 * Unlike the kernel's, every access is bounds-checked against the view:
 * - an offset or length that is not an integer, or a value that does not fit the type,
 *   is `DepError('EINVAL')`;
 * - an access outside the view is `DepError('EFAULT')` ("bad address": in the kernel it
 *   would be a page fault or KASAN out-of-bounds report, and EFAULT is what the kernel
 *   returns where it checks an address, as `copy_to_user` does). No WARN is recorded: the
 *   thrown error already fails the caller, and a WARN under checks `strict` would replace
 *   the errno with a `DepWarning`. An uncaught one in a task becomes an oops report.
 * - a write through a read-only view is `DepError('EACCES')` (a write to a mapping without
 *   write permission; EROFS is about file systems).
 * A failed call changes nothing. Values are little-endian. 64-bit values are `bigint`,
 * unsigned for `u64` (0 … 2^64-1, so 0xffff_ffff_ffff_ffffn reads back as itself, not -1n).
 *
 * No runtime is needed; any context (every method is synchronous and never sleeps).
 */
export class IosysMap {
  /** The underlying memory. */
  readonly buffer: IosysBuffer;
  /** `is_iomem`: I/O memory. Informational (both kinds are plain memory here); kept by sub-views. */
  readonly isIomem: boolean;
  /** Writes fail with EACCES; kept by sub-views. */
  readonly readonly: boolean;
  /** True over a `SharedArrayBuffer`. */
  readonly isShared: boolean;
  #start: number;
  #length: number;
  readonly #views: BufferViews;

  /**
   * A view of `buffer` from `offset` for `length` bytes (`IOSYS_MAP_INIT_VADDR` /
   * `IOSYS_MAP_INIT_VADDR_IOMEM`). Throws EINVAL for a non-buffer or non-integer bounds,
   * EFAULT for a range outside the buffer.
   */
  constructor(buffer: IosysBuffer, options: IosysMapOptions = {}) {
    const kind = bufferKind(buffer);
    if (kind === null) {
      throw new DepError('EINVAL', 'new IosysMap(buffer): pass an ArrayBuffer or SharedArrayBuffer');
    }
    const offset = options.offset ?? 0;
    const size = buffer.byteLength;
    const length = options.length ?? size - offset;
    if (!isIndex(offset) || !isIndex(length)) {
      throw new DepError('EINVAL', `new IosysMap: offset ${String(offset)} and length ${String(length)} must be integers`);
    }
    if (offset < 0 || length < 0 || offset + length > size) {
      throw new DepError('EFAULT', `new IosysMap: [${offset}, ${offset + length}) is outside the ${size}-byte buffer`);
    }
    this.buffer = buffer;
    this.isIomem = options.isIomem ?? false;
    this.readonly = options.readonly ?? false;
    this.isShared = kind === 'SharedArrayBuffer';
    this.#start = offset;
    this.#length = length;
    this.#views = viewsOf(buffer);
  }

  /** Where the view starts in {@link buffer} (moves with {@link incr}). */
  get offset(): number {
    return this.#start;
  }

  /** Bytes from the view's start to its end (shrinks with {@link incr}). */
  get length(): number {
    return this.#length;
  }

  /**
   * `IOSYS_MAP_INIT_OFFSET(map, offset)`: a new view starting `offset` bytes into this one,
   * `length` bytes long (default: to this view's end). Same memory, same `isIomem`; read-only
   * if this view is or if `options.readonly` asks for it. EINVAL/EFAULT as the constructor.
   */
  sub(offset: number, length?: number, options: { readonly readonly?: boolean } = {}): IosysMap {
    const len = length ?? this.#length - offset;
    this.#range(offset, len, 'sub');
    return new IosysMap(this.buffer, {
      offset: this.#start + offset,
      length: len,
      isIomem: this.isIomem,
      readonly: this.readonly || (options.readonly ?? false),
    });
  }

  /** A copy of this view (kernel code copies the struct by value; {@link incr} then moves only one). */
  clone(): IosysMap {
    return this.sub(0);
  }

  /**
   * `iosys_map_incr(map, n)`: move the start of this view `n` bytes forward (the end stays).
   * EINVAL for a non-integer, EFAULT past the end or for a negative `n`.
   */
  incr(n: number): void {
    this.#range(n, 0, 'incr');
    this.#start += n;
    this.#length -= n;
  }

  /** `iosys_map_is_equal`: same memory, same start, same kind. */
  isEqual(other: IosysMap): boolean {
    return other.buffer === this.buffer && other.#start === this.#start && other.isIomem === this.isIomem;
  }

  /** `iosys_map_rd(map, offset, type)`: read a value at `offset` (little-endian). */
  rd(offset: number, type: IosysNumberType): number;
  rd(offset: number, type: IosysBigintType): bigint;
  rd(offset: number, type: IosysType): number | bigint;
  rd(offset: number, type: IosysType): number | bigint {
    const at = this.#at(offset, type, 'rd');
    const dv = this.#views.dv;
    switch (type) {
      case 'u8':
        return dv.getUint8(at);
      case 's8':
        return dv.getInt8(at);
      case 'u16':
        return dv.getUint16(at, true);
      case 's16':
        return dv.getInt16(at, true);
      case 'u32':
        return dv.getUint32(at, true);
      case 's32':
        return dv.getInt32(at, true);
      case 'u64':
        return dv.getBigUint64(at, true);
      case 's64':
        return dv.getBigInt64(at, true);
    }
  }

  /**
   * `iosys_map_wr(map, offset, type, value)`: write `value` at `offset` (little-endian).
   * The value must fit the type: `u32` takes 0 … 2^32-1, `s32` -2^31 … 2^31-1, `u64` a
   * bigint 0n … 2^64-1 (use `BigInt.asUintN(64, v)` for a two's-complement value), else
   * EINVAL. EACCES on a read-only view.
   */
  wr(offset: number, type: IosysNumberType, value: number): void;
  wr(offset: number, type: IosysBigintType, value: bigint): void;
  wr(offset: number, type: IosysType, value: number | bigint): void;
  wr(offset: number, type: IosysType, value: number | bigint): void {
    const at = this.#at(offset, type, 'wr');
    this.#writable('wr');
    checkValue(type, value);
    const dv = this.#views.dv;
    switch (type) {
      case 'u8':
        dv.setUint8(at, value as number);
        return;
      case 's8':
        dv.setInt8(at, value as number);
        return;
      case 'u16':
        dv.setUint16(at, value as number, true);
        return;
      case 's16':
        dv.setInt16(at, value as number, true);
        return;
      case 'u32':
        dv.setUint32(at, value as number, true);
        return;
      case 's32':
        dv.setInt32(at, value as number, true);
        return;
      case 'u64':
        dv.setBigUint64(at, value as bigint, true);
        return;
      case 's64':
        dv.setBigInt64(at, value as bigint, true);
        return;
    }
  }

  /**
   * `iosys_map_memcpy_to(map, offset, src, len)`: copy `len` bytes (default: all of `src`)
   * from `src` into the view at `offset`. Overlapping copies within one buffer are handled.
   */
  memcpyTo(offset: number, src: ArrayBufferView, len: number = src.byteLength): void {
    this.#range(offset, len, 'memcpy_to');
    this.#writable('memcpy_to');
    if (len > src.byteLength) {
      throw new DepError('EFAULT', `memcpy_to: ${len} bytes requested from a ${src.byteLength}-byte source`);
    }
    const from = new Uint8Array(src.buffer, src.byteOffset, len);
    this.#views.bytes.set(from, this.#start + offset);
  }

  /**
   * `iosys_map_memcpy_from(dst, map, offset, len)`: copy `len` bytes (default: all of `dst`)
   * from the view at `offset` into `dst`.
   */
  memcpyFrom(dst: ArrayBufferView, offset: number, len: number = dst.byteLength): void {
    this.#range(offset, len, 'memcpy_from');
    if (len > dst.byteLength) {
      throw new DepError('EFAULT', `memcpy_from: ${len} bytes do not fit a ${dst.byteLength}-byte destination`);
    }
    const a = this.#start + offset;
    new Uint8Array(dst.buffer, dst.byteOffset, len).set(this.#views.bytes.subarray(a, a + len));
  }

  /** `iosys_map_memset(map, offset, value, len)`: fill `len` bytes with `value` (0 … 255). */
  memset(offset: number, value: number, len: number): void {
    this.#range(offset, len, 'memset');
    this.#writable('memset');
    if (!isIndex(value) || value < 0 || value > 255) {
      throw new DepError('EINVAL', `memset: value ${String(value)} is not a byte (0 … 255)`);
    }
    const a = this.#start + offset;
    this.#views.bytes.fill(value, a, a + len);
  }

  /**
   * Atomic 64-bit load (`READ_ONCE` of a u64 / `atomic64_read`) at `offset`, which must be
   * 8-byte aligned in the buffer (EINVAL otherwise). Uses `Atomics.load`, so it is
   * tear-free against another agent writing a `SharedArrayBuffer`; returns the unsigned value.
   */
  load64(offset: number): bigint {
    const i = this.#atomicIndex(offset, 'load64');
    return Atomics.load(this.#u64(), i);
  }

  /** Atomic 64-bit store (`WRITE_ONCE` / `atomic64_set`) of an unsigned `value`; see {@link load64}. */
  store64(offset: number, value: bigint): void {
    const i = this.#atomicIndex(offset, 'store64');
    this.#writable('store64');
    checkValue('u64', value);
    Atomics.store(this.#u64(), i, value);
  }

  #u64(): BigUint64Array {
    const v = this.#views;
    v.u64 ??= new BigUint64Array(this.buffer, 0, Math.floor(this.buffer.byteLength / 8));
    return v.u64;
  }

  #atomicIndex(offset: number, what: string): number {
    const at = this.#at(offset, 'u64', what);
    if (at % 8 !== 0) {
      throw new DepError('EINVAL', `${what}: buffer offset ${at} is not 8-byte aligned; 64-bit atomics need natural alignment`);
    }
    if (!LITTLE_ENDIAN) {
      throw new DepError('ENOSYS', `${what}: 64-bit atomics need a little-endian host (the memory is little-endian)`);
    }
    return at / 8;
  }

  /** Absolute byte index of a `type`-sized access at `offset`, bounds-checked. */
  #at(offset: number, type: IosysType, what: string): number {
    const size = SIZE[type];
    if (size === undefined) {
      throw new DepError('EINVAL', `${what}: unknown type ${String(type)}; pass one of u8 s8 u16 s16 u32 s32 u64 s64`);
    }
    this.#range(offset, size, what);
    return this.#start + offset;
  }

  #range(offset: number, len: number, what: string): void {
    if (!isIndex(offset) || !isIndex(len)) {
      throw new DepError('EINVAL', `${what}: offset ${String(offset)} and length ${String(len)} must be integers`);
    }
    if (offset < 0 || len < 0 || offset + len > this.#length) {
      throw new DepError(
        'EFAULT',
        `${what}: [${offset}, ${offset + len}) is outside the ${this.#length}-byte view; check the offset against the mapping size`,
      );
    }
  }

  #writable(what: string): void {
    if (this.readonly) {
      throw new DepError('EACCES', `${what}: the view is read-only; write through a writable view of the buffer`);
    }
  }
}

function checkValue(type: IosysType, value: unknown): void {
  if (type === 'u64' || type === 's64') {
    if (typeof value !== 'bigint') {
      throw new DepError('EINVAL', `wr(${type}): pass a bigint, got ${typeof value}`);
    }
    const ok = type === 'u64' ? value >= 0n && value < TWO_64 : value >= -TWO_63 && value < TWO_63;
    if (!ok) {
      throw new DepError('EINVAL', `wr(${type}): ${value} does not fit ${type}${type === 'u64' ? '; use BigInt.asUintN(64, v) for a two\'s-complement value' : ''}`);
    }
    return;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new DepError('EINVAL', `wr(${type}): pass an integer number, got ${String(value)}`);
  }
  const bits = SIZE[type] * 8;
  const signed = type.startsWith('s');
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (value < min || value > max) {
    throw new DepError('EINVAL', `wr(${type}): ${value} does not fit ${type} (${min} … ${max})`);
  }
}
