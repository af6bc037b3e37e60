/**
 * The ioctl argument validator: a small declarative schema per ioctl (the shape of its
 * `struct drm_*` argument), checked before the ioctl touches any state, throwing
 * `DepError` with the errno the kernel returns for that kind of bad input.
 *
 * ```ts
 * const SYNCOBJ_DESTROY = defineIoctl('DRM_IOCTL_SYNCOBJ_DESTROY', {
 *   handle: handle('syncobj', { missing: 'EINVAL' }),
 *   pad: pad(),
 * });
 * const args = SYNCOBJ_DESTROY.validate(userArgs); // { handle: number, pad: 0 }
 * ```
 *
 * What the kernel's C structs make impossible (a field of the wrong type, an unknown field)
 * is EINVAL here; what C reads through a user pointer (an array) is EFAULT when it is not
 * there or shorter than its count says. Every field defaults to zero (the kernel zeroes
 * what userspace did not pass: `drm_ioctl` copies `in_size` and zero-fills the rest).
 *
 * A schema is introspectable ({@link IoctlSchema.fields}) and can generate single-fault
 * mutations of valid arguments ({@link IoctlSchema.mutations}), so a conformance kit can
 * check that every ioctl of an adapter rejects bad input with its declared errno and
 * changes nothing.
 */
import { DepError, type ErrnoName } from '@dep/kernel';

/** `U32_MAX`. */
export const U32_MAX = 0xffff_ffff;
/** `U64_MAX` as a bigint. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** `S64_MAX` as a bigint. */
export const S64_MAX = 0x7fff_ffff_ffff_ffffn;
/** `S64_MIN` as a bigint. */
export const S64_MIN = -0x8000_0000_0000_0000n;

/** The kind of a schema field. */
export type FieldKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 's32'
  | 'u64'
  | 's64'
  | 'flags'
  | 'pad'
  | 'pad64'
  | 'count'
  | 'handle'
  | 'array'
  | 'struct'
  | 'fd'
  | 'enum'
  | 'bool'
  | 'string';

/** A bad value for a field, with why it is bad (for {@link IoctlSchema.mutations}). */
export interface FieldMutation {
  readonly why: string;
  readonly value: unknown;
}

/** What the parser knows while checking one argument object. */
export interface ParseContext {
  /** The ioctl's name, for messages. */
  readonly ioctl: string;
  /** The raw argument object (for `count` defaults). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Fields parsed so far (for arrays with a `count` field). */
  readonly parsed: Readonly<Record<string, unknown>>;
}

/**
 * One field of a schema: how it is checked and what it becomes. `T` is the normalized
 * type the ioctl body sees.
 */
export interface Field<T> {
  readonly kind: FieldKind;
  /** Introspection: the options the field was declared with (mask, alignment, table …). */
  readonly info: Readonly<Record<string, unknown>>;
  /** The value when the field is absent: the kernel's zero-fill, checked like a passed 0. */
  zero(ctx: ParseContext, key: string): T;
  /** Check a present value; return it normalized or throw `DepError`. */
  parse(value: unknown, path: string, ctx: ParseContext): T;
  /** Single-fault bad values, given a valid value of this field. */
  mutations(valid: T): FieldMutation[];
  /** Phantom, for type inference only. */
  readonly __type?: T;
}

/** The fields of a schema. */
export type Fields = Readonly<Record<string, Field<unknown>>>;

/** The normalized arguments a schema yields. */
export type Parsed<F extends Fields> = { readonly [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/** The arguments a caller passes: every field optional (zero when absent). */
export type Args<F extends Fields> = { readonly [K in keyof F]?: F[K] extends Field<infer T> ? T : never };

/** A cross-field rule: returns a failure or null. */
export interface Rule<F extends Fields> {
  readonly name: string;
  readonly info: Readonly<Record<string, unknown>>;
  check(args: Parsed<F>): { readonly errno: ErrnoName; readonly message: string } | null;
  /** Bad argument objects for this rule, given valid ones (may be none). */
  mutations?(valid: Parsed<F>): Array<{ readonly why: string; readonly args: Record<string, unknown> }>;
}

/** A mutation of a whole argument object, as {@link IoctlSchema.mutations} yields it. */
export interface ArgsMutation {
  /** What is wrong, e.g. `"flags: unknown bit 0x4"`. */
  readonly why: string;
  /** The field mutated (or the rule's name). */
  readonly field: string;
  /** The mutated argument object (or a non-object, for the bad-pointer case). */
  readonly args: unknown;
  /**
   * Set on the mutations that pass validation but name no object: the table the handle is
   * looked up in. The ioctl body fails them with the field's `missing` errno.
   */
  readonly table?: string;
}

/** Introspection of one field of a schema. */
export interface FieldDescription {
  readonly name: string;
  readonly kind: FieldKind;
  readonly info: Readonly<Record<string, unknown>>;
}

function bad(code: ErrnoName, ctx: ParseContext, path: string, message: string): never {
  throw new DepError(code, `${ctx.ioctl}: ${path} ${message}`);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return String(v);
  return `a ${typeof v}`;
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

// --- integer fields --------------------------------------------------------------------

/** Options of the number fields. */
export interface IntOptions {
  /** Smallest valid value (EINVAL below). */
  readonly min?: number;
  /** Largest valid value (EINVAL above; the type's range always applies). */
  readonly max?: number;
  /** The value must be a multiple of this (EINVAL otherwise), e.g. a page size. */
  readonly align?: number;
  /** Errno for a value outside min/max/align (default EINVAL). */
  readonly errno?: ErrnoName;
}

/** Options of the bigint fields. */
export interface BigIntOptions {
  readonly min?: bigint;
  readonly max?: bigint;
  readonly align?: bigint;
  readonly errno?: ErrnoName;
}

function intField(kind: 'u8' | 'u16' | 'u32' | 's32', lo: number, hi: number, o: IntOptions): Field<number> {
  const min = o.min ?? lo;
  const max = o.max ?? hi;
  const align = o.align;
  const errno = o.errno ?? 'EINVAL';
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < lo || max > hi || min > max) {
    throw new DepError('EINVAL', `${kind}(): min/max must lie within ${lo}…${hi}`);
  }
  if (align !== undefined && (!Number.isSafeInteger(align) || align < 1)) throw new DepError('EINVAL', `${kind}(): align must be a positive integer`);
  return {
    kind,
    info: { min, max, ...(align === undefined ? {} : { align }) },
    zero(ctx, key) {
      return this.parse(0, key, ctx);
    },
    parse(v, path, ctx) {
      if (typeof v !== 'number' || !Number.isInteger(v)) bad('EINVAL', ctx, path, `must be an integer (${kind}), got ${show(v)}`);
      if (v < lo || v > hi) bad('EINVAL', ctx, path, `${v} does not fit a ${kind} (${lo}…${hi})`);
      if (v < min || v > max) bad(errno, ctx, path, `${v} is outside ${min}…${max}`);
      if (align !== undefined && v % align !== 0) bad(errno, ctx, path, `${hex(v)} is not a multiple of ${hex(align)}`);
      return v;
    },
    mutations(valid) {
      const out: FieldMutation[] = [
        { why: `not an integer`, value: valid + 0.5 },
        { why: `beyond the ${kind} range`, value: hi + 1 },
        { why: `a bigint instead of a number`, value: BigInt(valid) },
      ];
      if (lo === 0) out.push({ why: 'negative', value: -1 });
      if (min > lo) out.push({ why: `below the minimum ${min}`, value: min - 1 });
      if (max < hi) out.push({ why: `above the maximum ${max}`, value: max + 1 });
      if (align !== undefined && align > 1) out.push({ why: `not a multiple of ${align}`, value: valid + 1 > max ? valid - 1 : valid + 1 });
      return out;
    },
  };
}

function bigField(kind: 'u64' | 's64', lo: bigint, hi: bigint, o: BigIntOptions): Field<bigint> {
  const min = o.min ?? lo;
  const max = o.max ?? hi;
  const align = o.align;
  const errno = o.errno ?? 'EINVAL';
  if (min < lo || max > hi || min > max) throw new DepError('EINVAL', `${kind}(): min/max must lie within ${lo}…${hi}`);
  if (align !== undefined && align < 1n) throw new DepError('EINVAL', `${kind}(): align must be positive`);
  return {
    kind,
    info: { min, max, ...(align === undefined ? {} : { align }) },
    zero(ctx, key) {
      return this.parse(0n, key, ctx);
    },
    parse(v, path, ctx) {
      if (typeof v !== 'bigint') bad('EINVAL', ctx, path, `must be a bigint (${kind}), got ${show(v)}`);
      if (v < lo || v > hi) bad('EINVAL', ctx, path, `${v} does not fit a ${kind}`);
      if (v < min || v > max) bad(errno, ctx, path, `${v} is outside ${min}…${max}`);
      if (align !== undefined && v % align !== 0n) bad(errno, ctx, path, `${hex(v)} is not a multiple of ${hex(align)}`);
      return v;
    },
    mutations(valid) {
      const out: FieldMutation[] = [
        { why: 'a number instead of a bigint', value: Number(valid) },
        { why: `beyond the ${kind} range`, value: hi + 1n },
      ];
      if (lo === 0n) out.push({ why: 'negative', value: -1n });
      if (min > lo) out.push({ why: `below the minimum ${min}`, value: min - 1n });
      if (max < hi) out.push({ why: `above the maximum ${max}`, value: max + 1n });
      if (align !== undefined && align > 1n) out.push({ why: `not a multiple of ${align}`, value: valid + 1n > max ? valid - 1n : valid + 1n });
      return out;
    },
  };
}

/** A `__u8`. */
export function u8(options: IntOptions = {}): Field<number> {
  return intField('u8', 0, 0xff, options);
}
/** A `__u16`. */
export function u16(options: IntOptions = {}): Field<number> {
  return intField('u16', 0, 0xffff, options);
}
/** A `__u32` (a JS number). */
export function u32(options: IntOptions = {}): Field<number> {
  return intField('u32', 0, U32_MAX, options);
}
/** A `__s32` (a JS number). */
export function s32(options: IntOptions = {}): Field<number> {
  return intField('s32', -0x8000_0000, 0x7fff_ffff, options);
}
/** A `__u64` (a bigint: sizes, addresses, offsets, timeline points). */
export function u64(options: BigIntOptions = {}): Field<bigint> {
  return bigField('u64', 0n, U64_MAX, options);
}
/** A `__s64` (a bigint: absolute timeouts in ns). */
export function s64(options: BigIntOptions = {}): Field<bigint> {
  return bigField('s64', S64_MIN, S64_MAX, options);
}

// --- flags and padding ------------------------------------------------------------------

/** Options of {@link flags}. */
export interface FlagsOptions {
  /** Groups of bits of which at most one may be set (EINVAL otherwise). */
  readonly exclusive?: readonly number[];
}

/**
 * A `__u32` flags word: any bit outside `mask` is EINVAL (the kernel's
 * `if (args->flags & ~VALID) return -EINVAL`).
 */
export function flags(mask: number, options: FlagsOptions = {}): Field<number> {
  if (!Number.isInteger(mask) || mask < 0 || mask > U32_MAX) throw new DepError('EINVAL', 'flags(mask): mask must be a u32');
  const exclusive = options.exclusive ?? [];
  return {
    kind: 'flags',
    info: { mask, ...(exclusive.length === 0 ? {} : { exclusive }) },
    zero: () => 0,
    parse(v, path, ctx) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) bad('EINVAL', ctx, path, `must be a u32 flags word, got ${show(v)}`);
      const unknown = (v & ~mask) >>> 0;
      if (unknown !== 0) bad('EINVAL', ctx, path, `${hex(v)} has unknown bits ${hex(unknown)} (valid: ${hex(mask)})`);
      for (const group of exclusive) {
        const set = (v & group) >>> 0;
        if (set !== 0 && (set & (set - 1)) !== 0) bad('EINVAL', ctx, path, `${hex(v)} sets more than one of ${hex(group)}`);
      }
      return v;
    },
    mutations(valid) {
      const out: FieldMutation[] = [{ why: 'not a u32', value: -1 }];
      const free = (~mask >>> 0) & U32_MAX;
      if (free !== 0) {
        const bit = free & -free;
        out.push({ why: `unknown bit ${hex(bit >>> 0)}`, value: (valid | bit) >>> 0 });
        const top = 0x8000_0000;
        if ((mask & top) === 0 && bit !== top) out.push({ why: 'unknown bit 0x80000000', value: (valid | top) >>> 0 });
      }
      for (const group of exclusive) {
        const bits = [];
        for (let b = 1; b !== 0 && b <= group; b <<= 1) if ((group & b) !== 0) bits.push(b);
        if (bits.length >= 2) out.push({ why: `two exclusive bits of ${hex(group)}`, value: ((valid & ~group) | bits[0]! | bits[1]!) >>> 0 });
      }
      return out;
    },
  };
}

/** A `__u32 pad` the kernel checks: non-zero is EINVAL ("make sure padding is empty"). */
export function pad(): Field<number> {
  return {
    kind: 'pad',
    info: {},
    zero: () => 0,
    parse(v, path, ctx) {
      if (v !== 0) bad('EINVAL', ctx, path, `must be 0 (padding), got ${show(v)}`);
      return 0;
    },
    mutations: () => [{ why: 'non-zero padding', value: 1 }],
  };
}

/** A `__u64` pad (or reserved words) the kernel checks: non-zero is EINVAL. */
export function pad64(): Field<bigint> {
  return {
    kind: 'pad64',
    info: {},
    zero: () => 0n,
    parse(v, path, ctx) {
      if (v !== 0n) bad('EINVAL', ctx, path, `must be 0n (reserved), got ${show(v)}`);
      return 0n;
    },
    mutations: () => [{ why: 'non-zero reserved word', value: 1n }],
  };
}

// --- handles, counts, arrays, structs ---------------------------------------------------

/** Options of {@link handle}. */
export interface HandleOptions<F = Record<string, unknown>> {
  /**
   * The errno the ioctl returns when the handle names nothing in the table — ENOENT for a
   * lookup (`drm_gem_object_lookup`, `drm_syncobj_find`), EINVAL where the kernel says so
   * (`GEM_CLOSE`, `SYNCOBJ_DESTROY`). May depend on the other arguments, and be null
   * when those arguments make the ioctl ignore the handle.
   */
  readonly missing?: ErrnoName | ((args: F) => ErrnoName | null);
  /** 0 means "none" (an optional object, e.g. `vm_id = 0`): not looked up. */
  readonly optional?: boolean;
}

/**
 * A `__u32` handle into one of the file's tables (`'gem'`, `'syncobj'`, `'vm'`, a driver
 * table …). The validator checks the u32; the ioctl body looks it up (the table and the
 * `missing` errno are declared here so a conformance kit can aim bad handles at it).
 */
export function handle(table: string, options: HandleOptions = {}): Field<number> {
  const base = intField('u32', 0, U32_MAX, {});
  return {
    kind: 'handle',
    info: { table, missing: options.missing ?? 'ENOENT', optional: options.optional ?? false },
    zero: () => 0,
    parse: (v, path, ctx) => base.parse(v, path, ctx),
    mutations: (valid) => base.mutations(valid),
  };
}

/** Options of {@link countOf}. */
export interface CountOptions {
  readonly min?: number;
  readonly max?: number;
  /** Errno below `min` / above `max` (default EINVAL). */
  readonly errno?: ErrnoName;
}

/**
 * A `__u32 count_*` field giving the length of the array field `of`. When absent it
 * defaults to that array's length; a count larger than the array is EFAULT (the kernel's
 * `copy_from_user` would read past the user's buffer); a smaller one uses a prefix.
 */
export function countOf(of: string, options: CountOptions = {}): Field<number> {
  const min = options.min ?? 0;
  const max = options.max ?? U32_MAX;
  const errno = options.errno ?? 'EINVAL';
  return {
    kind: 'count',
    info: { of, min, max },
    zero(ctx, key) {
      const arr = ctx.raw[of];
      return this.parse(Array.isArray(arr) ? arr.length : 0, key, ctx);
    },
    parse(v, path, ctx) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) bad('EINVAL', ctx, path, `must be a u32 count, got ${show(v)}`);
      if (v < min || v > max) bad(errno, ctx, path, `${v} is outside ${min}…${max}`);
      return v;
    },
    mutations() {
      const out: FieldMutation[] = [{ why: 'negative count', value: -1 }];
      if (min > 0) out.push({ why: `count below ${min}`, value: min - 1 });
      if (max < U32_MAX) out.push({ why: `count above ${max}`, value: max + 1 });
      return out;
    },
  };
}

/** Options of {@link array}. */
export interface ArrayOptions {
  /** The name of the {@link countOf} field giving its length (declared before this one). */
  readonly count?: string;
  /** Bounds when there is no count field (EINVAL outside). */
  readonly min?: number;
  readonly max?: number;
  /**
   * A NULL pointer is allowed whatever the count says (an empty array: the kernel reads
   * zeros, as for the `points` of `SYNCOBJ_TIMELINE_WAIT`).
   */
  readonly nullable?: boolean;
}

/**
 * A user array (`__u64 handles` pointing at `count` elements). Absent is a NULL pointer: an
 * empty array unless its count says otherwise (then EFAULT). Not an array: EFAULT.
 */
export function array<T>(of: Field<T>, options: ArrayOptions = {}): Field<readonly T[]> {
  const countField = options.count;
  const min = options.min ?? 0;
  const max = options.max ?? U32_MAX;
  const nullable = options.nullable ?? false;
  return {
    kind: 'array',
    info: { of: { kind: of.kind, info: of.info }, ...(countField === undefined ? {} : { count: countField }), min, max, nullable },
    zero(ctx, key) {
      if (nullable) return [];
      const n = countField === undefined ? 0 : (ctx.parsed[countField] as number);
      if (n > 0) bad('EFAULT', ctx, key, `is a NULL user pointer but ${countField} is ${n}`);
      if (min > 0) bad('EINVAL', ctx, key, `needs at least ${min} element(s)`);
      return [];
    },
    parse(v, path, ctx) {
      if (!Array.isArray(v)) bad('EFAULT', ctx, path, `must be an array (a user pointer), got ${show(v)}`);
      let n = v.length;
      if (countField !== undefined) {
        const c = ctx.parsed[countField] as number;
        if (c > v.length) bad('EFAULT', ctx, path, `has ${v.length} element(s) but ${countField} is ${c}: the kernel would read past the array`);
        n = c;
      } else if (n < min || n > max) {
        bad('EINVAL', ctx, path, `has ${n} element(s); expected ${min}…${max}`);
      }
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = of.parse((v as unknown[])[i], `${path}[${i}]`, ctx);
      return out;
    },
    mutations(valid) {
      const out: FieldMutation[] = [{ why: 'not an array (bad user pointer)', value: 42 }];
      if (valid.length > 0) {
        for (const m of of.mutations(valid[0]!)) out.push({ why: `[0]: ${m.why}`, value: [m.value, ...valid.slice(1)] });
      }
      return out;
    },
  };
}

/** A nested struct (an element of a user array, e.g. `struct drm_xe_sync`). */
export function struct<F extends Fields>(fields: F): Field<Parsed<F>> {
  return {
    kind: 'struct',
    info: { fields: describeFields(fields) },
    zero(ctx, key) {
      return parseObject(fields, {}, key, ctx.ioctl);
    },
    parse(v, path, ctx) {
      return parseObject(fields, v, path, ctx.ioctl);
    },
    mutations(valid) {
      const out: FieldMutation[] = [{ why: 'not an object', value: 7 }];
      for (const m of fieldMutations(fields, valid)) out.push({ why: `${m.field}: ${m.why}`, value: m.args });
      return out;
    },
  };
}

// --- tokens and misc ---------------------------------------------------------------------

/** Options of {@link fd}. */
export interface FdOptions {
  /**
   * Errno when the value is not such a file: EBADF by default (`fdget` finds no file);
   * a function may tell "no open file at all" (EBADF) from "a file of another kind"
   * (EINVAL, what `dma_buf_get` and the syncobj ioctls say).
   */
  readonly errno?: ErrnoName | ((value: unknown) => ErrnoName);
}

/**
 * A file-descriptor-like token (a `SyncFile`, a `SyncobjFd`, a `DmaBufFd`): `accept`
 * tells whether a value is one (and open). Anything else is `errno` (default EBADF).
 */
export function fd<T>(name: string, accept: (v: unknown) => v is T, options: FdOptions = {}): Field<T> {
  const errno = options.errno ?? 'EBADF';
  const code = (v: unknown): ErrnoName => (typeof errno === 'function' ? errno(v) : errno);
  return {
    kind: 'fd',
    info: { name },
    zero(ctx, key) {
      return bad(code(undefined), ctx, key, `is missing: pass an open ${name}`);
    },
    parse(v, path, ctx) {
      if (!accept(v)) bad(code(v), ctx, path, `is not an open ${name}, got ${show(v)}`);
      return v;
    },
    mutations: () => [
      { why: `not a ${name}`, value: {} },
      { why: 'an integer instead of a token', value: 3 },
    ],
  };
}

/** A `__u32` that must be one of `values` (a placement, an op code): EINVAL otherwise. */
export function oneOf<const V extends number>(values: readonly V[], options: { readonly errno?: ErrnoName } = {}): Field<V> {
  const errno = options.errno ?? 'EINVAL';
  const set = new Set<number>(values);
  if (values.length === 0) throw new DepError('EINVAL', 'oneOf(values): pass at least one value');
  return {
    kind: 'enum',
    info: { values },
    zero(ctx, key) {
      return this.parse(0, key, ctx);
    },
    parse(v, path, ctx) {
      if (typeof v !== 'number' || !set.has(v)) bad(errno, ctx, path, `must be one of ${values.join(', ')}, got ${show(v)}`);
      return v as V;
    },
    mutations() {
      let n = Math.max(...values) + 1;
      while (set.has(n)) n++;
      return [{ why: 'not one of the values', value: n }];
    },
  };
}

/** A boolean (a C `__u8` used as a bool is stricter here: only true/false). */
export function bool(): Field<boolean> {
  return {
    kind: 'bool',
    info: {},
    zero: () => false,
    parse(v, path, ctx) {
      if (typeof v !== 'boolean') bad('EINVAL', ctx, path, `must be true or false, got ${show(v)}`);
      return v;
    },
    mutations: () => [{ why: 'not a boolean', value: 1 }],
  };
}

/** A NUL-terminated name of at most `maxLen` bytes (EINVAL if longer or not a string). */
export function string(maxLen: number): Field<string> {
  return {
    kind: 'string',
    info: { maxLen },
    zero: () => '',
    parse(v, path, ctx) {
      if (typeof v !== 'string') bad('EINVAL', ctx, path, `must be a string, got ${show(v)}`);
      if (v.length > maxLen) bad('EINVAL', ctx, path, `is longer than ${maxLen} characters`);
      return v;
    },
    mutations: () => [
      { why: 'not a string', value: 5 },
      { why: 'too long', value: 'x'.repeat(maxLen + 1) },
    ],
  };
}

// --- rules ---------------------------------------------------------------------------------

/**
 * `check_add_overflow(a, b)` / range checks: `args[a] + args[b]` must not exceed `max`
 * (default `U64_MAX`): `errno` (default EINVAL; some ioctls say EOVERFLOW or ERANGE).
 */
export function noOverflow<F extends Fields>(a: keyof F & string, b: keyof F & string, options: { readonly max?: bigint; readonly errno?: ErrnoName } = {}): Rule<F> {
  const max = options.max ?? U64_MAX;
  const errno = options.errno ?? 'EINVAL';
  return {
    name: `${a} + ${b} ≤ ${hex(max)}`,
    info: { kind: 'noOverflow', a, b, max, errno },
    check(args) {
      const x = (args as Record<string, unknown>)[a] as bigint;
      const y = (args as Record<string, unknown>)[b] as bigint;
      return x + y > max ? { errno, message: `${a} + ${b} = ${hex(x)} + ${hex(y)} overflows ${hex(max)}` } : null;
    },
    mutations(valid) {
      const y = (valid as Record<string, unknown>)[b] as bigint;
      if (y === 0n) return [{ why: `${a} + ${b} overflows (${b} set to max)`, args: { ...valid, [a]: 1n, [b]: max } }];
      return [{ why: `${a} + ${b} overflows`, args: { ...valid, [a]: max - y + 1n } }];
    },
  };
}

/** A rule in code: `check` returns a message when the arguments are bad (→ `errno`). */
export function rule<F extends Fields>(name: string, errno: ErrnoName, check: (args: Parsed<F>) => string | null, mutations?: Rule<F>['mutations']): Rule<F> {
  return {
    name,
    info: { kind: 'rule', errno },
    check(args) {
      const message = check(args);
      return message === null ? null : { errno, message };
    },
    ...(mutations === undefined ? {} : { mutations }),
  };
}

// --- schemas -------------------------------------------------------------------------------

function describeFields(fields: Fields): FieldDescription[] {
  return Object.entries(fields).map(([name, f]) => ({ name, kind: f.kind, info: f.info }));
}

function parseObject<F extends Fields>(fields: F, raw: unknown, path: string, ioctl: string): Parsed<F> {
  if (raw === undefined) raw = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DepError('EFAULT', `${ioctl}: ${path === '' ? 'the argument' : path} must be an object (a user pointer to the struct), got ${show(raw)}`);
  }
  const src = raw as Record<string, unknown>;
  for (const key of Object.keys(src)) {
    if (!Object.hasOwn(fields, key) && src[key] !== undefined) {
      throw new DepError('EINVAL', `${ioctl}: ${path === '' ? '' : `${path}.`}${key} is not a field of this ioctl (fields: ${Object.keys(fields).join(', ')})`);
    }
  }
  const out: Record<string, unknown> = {};
  const ctx: ParseContext = { ioctl, raw: src, parsed: out };
  for (const key of Object.keys(fields)) {
    const f = fields[key]!;
    const v = src[key];
    const p = path === '' ? key : `${path}.${key}`;
    out[key] = v === undefined ? f.zero(ctx, p) : f.parse(v, p, ctx);
  }
  return out as Parsed<F>;
}

function fieldMutations(fields: Fields, valid: Record<string, unknown>): ArgsMutation[] {
  const out: ArgsMutation[] = [];
  for (const [name, f] of Object.entries(fields)) {
    const v = valid[name] ?? f.zero({ ioctl: '', raw: valid, parsed: valid }, name);
    for (const m of f.mutations(v)) {
      const args = { ...valid, [name]: m.value };
      out.push({ why: m.why, field: name, args });
    }
  }
  return out;
}

/** Options of {@link defineIoctl}. */
export interface IoctlOptions<F extends Fields> {
  /** Cross-field rules, checked after every field, in order. */
  readonly rules?: readonly Rule<F>[];
  /** A driver feature the ioctl needs (`'syncobj'`, `'syncobjTimeline'` …): EOPNOTSUPP without it. */
  readonly feature?: string;
}

/**
 * An ioctl's schema: `validate(args)` checks an argument object and returns it normalized
 * (every field present), or throws `DepError` before anything changed.
 */
export class IoctlSchema<F extends Fields> {
  /** The kernel's name, `DRM_IOCTL_…`. */
  readonly name: string;
  readonly #fields: F;
  readonly rules: readonly Rule<F>[];
  /** The driver feature the ioctl needs, if any. */
  readonly feature: string | undefined;

  constructor(name: string, fields: F, options: IoctlOptions<F> = {}) {
    if (typeof name !== 'string' || name.length === 0) throw new DepError('EINVAL', 'defineIoctl(name, fields): pass the ioctl name');
    const keys = Object.keys(fields);
    for (const [i, key] of keys.entries()) {
      const f = fields[key]!;
      if (f.kind === 'array' && typeof f.info.count === 'string') {
        const c = keys.indexOf(f.info.count);
        if (c < 0 || c > i || fields[f.info.count]!.kind !== 'count') {
          throw new DepError('EINVAL', `defineIoctl(${name}): ${key}'s count field ${f.info.count} must be a countOf() field declared before it`);
        }
      }
    }
    this.name = name;
    this.#fields = fields;
    this.rules = options.rules ?? [];
    this.feature = options.feature;
  }

  /** The fields, in declaration (= checking) order. */
  get fields(): readonly FieldDescription[] {
    return describeFields(this.#fields);
  }

  /** The field specs themselves (for composing a driver's schema from a core one). */
  get spec(): F {
    return this.#fields;
  }

  /**
   * Check `args` field by field (in declaration order), then every rule; return the
   * normalized arguments. Throws `DepError` (EINVAL, EFAULT, … as declared); changes
   * nothing.
   */
  validate(args: unknown): Parsed<F> {
    const parsed = parseObject(this.#fields, args, '', this.name);
    for (const r of this.rules) {
      const failure = r.check(parsed);
      if (failure !== null) throw new DepError(failure.errno, `${this.name}: ${failure.message}`);
    }
    return parsed;
  }

  /** The errno `validate(args)` throws, or null if the arguments are valid. */
  expectedError(args: unknown): ErrnoName | null {
    try {
      this.validate(args);
      return null;
    } catch (e) {
      if (e instanceof DepError) return e.code;
      throw e;
    }
  }

  /**
   * Single-fault mutations of valid arguments: for each field the bad values its kind
   * allows (unknown flag bits, non-zero pad, out-of-range and misaligned numbers, a wrong
   * type, an array shorter than its count …), and for each rule the argument objects that
   * break it. Handle fields yield a handle that no table uses (`0xfffffff0`) with the
   * table to aim at, so a harness can also try another file's handles. Each mutation's
   * expected errno is `expectedError(m.args)` (or the handle's `missing` errno, which the
   * ioctl body returns).
   */
  mutations(valid: Args<F>): ArgsMutation[] {
    const v = this.validate(valid) as Record<string, unknown>;
    const out = fieldMutations(this.#fields, v);
    for (const [name, f] of Object.entries(this.#fields)) {
      if (f.kind === 'handle') {
        const table = f.info.table as string;
        out.push({ why: 'a handle no table uses', field: name, args: { ...v, [name]: 0xffff_fff0 }, table });
        if (f.info.optional !== true) out.push({ why: 'handle 0 (never allocated)', field: name, args: { ...v, [name]: 0 }, table });
      } else if (f.kind === 'array') {
        const of = f.info.of as { kind: FieldKind; info: Record<string, unknown> };
        const arr = v[name] as unknown[];
        if (of.kind === 'handle' && arr.length > 0) {
          out.push({ why: '[0]: a handle no table uses', field: name, args: { ...v, [name]: [0xffff_fff0, ...arr.slice(1)] }, table: of.info.table as string });
        }
      }
    }
    for (const r of this.rules) {
      for (const m of r.mutations?.(v as Parsed<F>) ?? []) out.push({ why: m.why, field: r.name, args: m.args });
    }
    out.push({ why: 'an unknown field', field: '(none)', args: { ...v, __bogus: 1 } });
    out.push({ why: 'not an object (bad user pointer)', field: '(argument)', args: null });
    return out;
  }

  /**
   * The `missing` errno of a handle field (or of the elements of a handle array) for these
   * arguments (ENOENT by default); null when these arguments make the ioctl ignore it.
   */
  missingErrno(field: string, args: Parsed<F>): ErrnoName | null {
    let f: { kind: FieldKind; info: Readonly<Record<string, unknown>> } | undefined = this.#fields[field];
    if (f?.kind === 'array') f = f.info.of as typeof f;
    if (f === undefined || f.kind !== 'handle') throw new DepError('EINVAL', `${this.name}: ${field} is not a handle field`);
    const m = f.info.missing as ErrnoName | ((a: Parsed<F>) => ErrnoName | null);
    return typeof m === 'function' ? m(args) : m;
  }
}

/** Declare an ioctl's argument schema (see the module doc). */
export function defineIoctl<F extends Fields>(name: string, fields: F, options: IoctlOptions<F> = {}): IoctlSchema<F> {
  return new IoctlSchema(name, fields, options);
}
