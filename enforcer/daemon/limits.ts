// Resource limits reached at run time (full conntrack table, half-open budget, identity caches,
// the engine's event ring, verification budgets): each degrades in the way its owner defines
// (refuse the new flow, evict the oldest cache entry, drop the oldest event...) and the daemon
// makes that visible. Invariants: one warning per episode per limit (an episode starts when the
// limit's counter moves and ends after QUIET_MS without movement, with one info line saying how
// many were affected); never more than one line per limit per episode, whatever the rate.
import type { Logger } from './log.js';

export const QUIET_MS = 30_000;

interface Episode {
  base: number;
  last: number;
  since: number;
  lastMove: number;
}

export class LimitReporter {
  private readonly seen = new Map<string, number>();
  private readonly open = new Map<string, Episode>();

  constructor(
    private readonly log: Logger,
    private readonly quietMs = QUIET_MS,
  ) {}

  /**
   * Report the current value of a monotonic counter of limit hits. `what` says what happens when the
   * limit is reached (the defined degradation), `metric` where it is counted.
   */
  observe(limit: string, count: number, now: number, what: string, metric: string): void {
    // Counters start at 0 with the engine/agent that owns them.
    const prev = this.seen.get(limit) ?? 0;
    this.seen.set(limit, count);
    const ep = this.open.get(limit);
    if (count > prev) {
      if (ep === undefined) {
        this.open.set(limit, { base: prev, last: count, since: now, lastMove: now });
        this.log.warn(`resource limit reached: ${limit}; ${what}`, { limit, count: count - prev, metric });
      } else {
        ep.last = count;
        ep.lastMove = now;
      }
    } else if (ep !== undefined && now - ep.lastMove >= this.quietMs) {
      this.open.delete(limit);
      this.log.info(`resource limit no longer hit: ${limit}`, { limit, affected: ep.last - ep.base, durationMs: ep.lastMove - ep.since, metric });
    }
  }

  /** Limits in an open episode. */
  active(): string[] {
    return [...this.open.keys()];
  }
}
