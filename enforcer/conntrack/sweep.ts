// Incremental expiry sweep for the flow table (no per-entry timers).
// Invariants: step() examines at most `budget` slots and never allocates; a full pass over the
// table takes ceil(slots / budget) steps; an entry removed by the sweep is reported to the table's
// onExpire hook first; the cursor stays on a slot after removing from it, because backward shift
// may have moved the next entry of the cluster into it.
import { ctStateName } from './flags.js';
import { KG_META, KG_STRIDE, META_STATE_SHIFT, type ConntrackTable } from './table.js';

export interface SweepStats {
  /** step() calls. */
  steps: number;
  /** Completed passes over the whole table. */
  passes: number;
  /** Slots examined. */
  scanned: number;
  /** Entries removed, total. */
  expired: number;
  /** Entries removed by state, indexed by CtState (16 entries: room for every state value in use). */
  expiredByState: Uint32Array;
}

export class Sweeper {
  private cursor = 0;
  readonly stats: SweepStats = { steps: 0, passes: 0, scanned: 0, expired: 0, expiredByState: new Uint32Array(16) };

  constructor(private readonly table: ConntrackTable<unknown>) {}

  /** Examines up to `budget` slots from the cursor and removes the expired entries; returns how many were removed. */
  step(now: number, budget: number): number {
    const t = this.table;
    const n = t.slots;
    let removed = 0;
    let i = this.cursor;
    let stay = 0;
    this.stats.steps++;
    for (let k = 0; k < budget; k++) {
      this.stats.scanned++;
      if (t.isExpired(i, now)) {
        const st = (t.kg[i * KG_STRIDE + KG_META]! >>> META_STATE_SHIFT) & 0xff;
        t.expire(i, now);
        this.stats.expired++;
        this.stats.expiredByState[st & 15]!++;
        removed++;
        // Re-examine this slot (a shifted entry may now live here), at most a cluster's worth.
        if (++stay <= 255) continue;
      }
      stay = 0;
      if (++i === n) {
        i = 0;
        this.stats.passes++;
      }
    }
    this.cursor = i;
    return removed;
  }

  /** A readable summary for `syngate` status output. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {
      steps: this.stats.steps,
      passes: this.stats.passes,
      scanned: this.stats.scanned,
      expired: this.stats.expired,
    };
    for (let s = 0; s < this.stats.expiredByState.length; s++) {
      const v = this.stats.expiredByState[s]!;
      if (v !== 0) out[`expired.${ctStateName(s)}`] = v;
    }
    return out;
  }
}

