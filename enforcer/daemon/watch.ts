// Change detection for hot reload: polls the stat of watched files and folders.
// Why polling and not fs.watch: Kubernetes updates ConfigMap and Secret volumes by swapping a
// `..data` symlink, editors save by rename, and inotify on the old inode misses both; a stat of
// each path every `pollMillis` sees them all, costs microseconds, and works on every filesystem.
// Invariants: the callback runs at most once per `debounceMillis` quiet period after a change and
// never concurrently with itself (a change seen while it runs schedules one more run); a path
// that vanishes or appears counts as a change; stop() ends all timers.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Signature of a path: what we compare between polls. Folders include their entries (one level deep recursion). */
export function pathSignature(path: string, depth = 0): string {
  let st;
  try {
    st = statSync(path); // follows symlinks, so a swapped `..data` link changes ino/mtime
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? '?'}`;
  }
  if (st.isDirectory() && depth < 4) {
    let entries: string[] = [];
    try {
      entries = readdirSync(path).filter((n) => !n.startsWith('.') || n === '..data').sort();
    } catch {
      entries = [];
    }
    return `d:${st.ino}:${st.mtimeMs}[${entries.map((n) => `${n}=${pathSignature(join(path, n), depth + 1)}`).join(',')}]`;
  }
  return `f:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export interface WatchGroup {
  /** A name for logs and metrics: `policy`, `inventory`, `credentials`. */
  name: string;
  paths: readonly string[];
}

export class FileWatcher {
  private readonly sigs = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private pending = new Set<string>();
  private running = false;
  private again = false;

  constructor(
    private groups: WatchGroup[],
    private readonly onChange: (groups: string[]) => Promise<void> | void,
    private readonly pollMillis: number,
    private readonly debounceMillis: number,
  ) {
    this.snapshot();
  }

  /** Replace the watched set (e.g. after the config named new files); takes a fresh baseline. */
  setGroups(groups: WatchGroup[]): void {
    this.groups = groups;
    this.sigs.clear();
    this.snapshot();
  }

  /** Take the current state as the baseline (call after a reload read the files). */
  snapshot(): void {
    for (const g of this.groups) for (const p of g.paths) this.sigs.set(`${g.name}\0${p}`, pathSignature(p));
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.poll(), this.pollMillis);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.timer = null;
    this.debounce = null;
  }

  /** One poll; exported for tests. Returns the groups seen changed. */
  poll(): string[] {
    const changed: string[] = [];
    for (const g of this.groups) {
      for (const p of g.paths) {
        const k = `${g.name}\0${p}`;
        const s = pathSignature(p);
        if (this.sigs.get(k) !== s) {
          this.sigs.set(k, s);
          if (!changed.includes(g.name)) changed.push(g.name);
        }
      }
    }
    if (changed.length > 0) {
      for (const c of changed) this.pending.add(c);
      if (this.debounce !== null) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        this.debounce = null;
        void this.fire();
      }, this.debounceMillis);
      this.debounce.unref();
    }
    return changed;
  }

  private async fire(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        const groups = [...this.pending];
        this.pending.clear();
        if (groups.length > 0) await this.onChange(groups);
      } while (this.again || this.pending.size > 0);
    } catch {
      // onChange reports its own errors; the watcher keeps running.
    } finally {
      this.running = false;
    }
  }
}
