/**
 * What a fuzz budget exercised: per command kind, how many ran as valid calls and which
 * errnos the invalid ones expected. The fuzz test asserts the sequences do reach the deep
 * paths (successful submits on every driver, a fair share of invalid calls) and prints the
 * table with `DEP_FUZZ_REPORT=1`.
 */
import type { Model } from './model.js';
import type { Cmd } from './harness.js';
import type { World } from './world.js';

/** Counts of one command kind. */
export interface KindCoverage {
  valid: number;
  readonly errnos: Map<string, number>;
}

/** Counts of the calls {@link expectErrno} judged, since the module loaded (read by {@link Coverage.wrap}). */
export const errnoLog: string[] = [];

export class Coverage {
  readonly kinds = new Map<string, KindCoverage>();
  commands = 0;

  /** `cmd`, counted when it runs: valid if it expected no errno, else by the errnos it expected. */
  wrap(cmd: Cmd): Cmd {
    const kind = cmd.toString().split('(')[0]!;
    return {
      check: (m: Readonly<Model>) => cmd.check(m),
      run: async (m: Model, w: World) => {
        const before = errnoLog.length;
        try {
          await cmd.run(m, w);
        } finally {
          this.commands++;
          const k = this.kinds.get(kind) ?? { valid: 0, errnos: new Map<string, number>() };
          this.kinds.set(kind, k);
          const errnos = errnoLog.slice(before);
          if (errnos.length === 0) k.valid++;
          for (const e of errnos) k.errnos.set(e, (k.errnos.get(e) ?? 0) + 1);
        }
      },
      toString: () => cmd.toString(),
    };
  }

  /** Commands that expected an errno. */
  get invalid(): number {
    let n = 0;
    for (const k of this.kinds.values()) for (const c of k.errnos.values()) n += c;
    return n;
  }

  validOf(kind: string): number {
    return this.kinds.get(kind)?.valid ?? 0;
  }

  /** One line per command kind: `Kind  valid  ENOENT×3 EINVAL×5`. */
  table(): string {
    return [...this.kinds]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, k]) => `${kind.padEnd(16)} ${String(k.valid).padStart(5)} valid  ${[...k.errnos].map(([e, n]) => `${e}×${n}`).join(' ')}`)
      .join('\n');
  }
}
