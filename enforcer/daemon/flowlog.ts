// The flow log sink: JSON lines of FlowRecord (docs/flowlog.md) to a size-rotated file or stdout,
// plus an in-memory ring of recent records for /flows and /map.
// Invariants:
//  - write() never throws and never blocks on the disk: records are batched and flushed every
//    FLUSH_MS or when the batch reaches FLUSH_BYTES;
//  - a failing sink degrades in one defined way: the batch is dropped, counted in
//    syngate_flowlog_dropped_records_total{reason}, and ONE warning is logged until a write
//    succeeds again (then one info line says how many were dropped); the daemon keeps running;
//  - files hold only whole lines: a batch the disk took only part of is truncated away again;
//  - the file never grows past maxBytes (a single record larger than maxBytes is dropped as
//    `too-large`); rotation keeps path.1 .. path.(maxFiles-1), oldest removed;
//  - the ring holds at most `recent` records, oldest overwritten first.
import { closeSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { FlowRecord } from '../engine/flow-record.js';
import type { Logger } from './log.js';
import type { SyngateMetrics } from './metrics.js';

export const FLUSH_MS = 200;
export const FLUSH_BYTES = 64 * 1024;
/** Bytes queued for stdout beyond which records are dropped (`backpressure`). */
export const STDOUT_HIGH_WATER = 4 * 1024 * 1024;

export interface FlowLogOptions {
  sink: 'file' | 'stdout' | 'off';
  path: string | null;
  maxBytes: number;
  maxFiles: number;
  recent: number;
}

/** File operations the sink uses; tests substitute failing ones. */
export interface FlowLogFs {
  open(path: string): number;
  size(fd: number): number;
  write(fd: number, data: Buffer): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
  /** Cut the file back to `size` bytes (undo a partly written batch). */
  truncate(fd: number, size: number): void;
}

export const nodeFlowLogFs: FlowLogFs = {
  open: (p) => openSync(p, 'a', 0o640),
  size: (fd) => fstatSync(fd).size,
  write: (fd, data) => {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  },
  close: (fd) => closeSync(fd),
  rename: (a, b) => renameSync(a, b),
  remove: (p) => rmSync(p, { force: true }),
  truncate: (fd, size) => ftruncateSync(fd, size),
};

function dropReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? 'disk-full' : 'write-error';
}

export class FlowLog {
  private readonly ring: (FlowRecord | undefined)[];
  private ringNext = 0;
  private ringCount = 0;
  private batch: string[] = [];
  private batchBytes = 0;
  private fd = -1;
  private fileSize = 0;
  private timer: NodeJS.Timeout | null = null;
  private degraded: string | null = null;
  private droppedWhileDegraded = 0;
  /** Totals, for tests and /flows. */
  written = 0;
  dropped = 0;

  constructor(
    private readonly opts: FlowLogOptions,
    private readonly metrics: SyngateMetrics | null,
    private readonly log: Logger,
    private readonly fs: FlowLogFs = nodeFlowLogFs,
    private readonly stdout: NodeJS.WritableStream & { writableLength?: number } = process.stdout,
  ) {
    this.ring = new Array<FlowRecord | undefined>(opts.recent).fill(undefined);
  }

  /** Queue one record. Never throws. */
  write(rec: FlowRecord): void {
    if (this.opts.recent > 0) {
      this.ring[this.ringNext] = rec;
      this.ringNext = (this.ringNext + 1) % this.opts.recent;
      if (this.ringCount < this.opts.recent) this.ringCount++;
    }
    this.metrics?.flowlogRecords.inc({ state: rec.state });
    if (this.opts.sink === 'off') return;
    let line: string;
    try {
      line = `${JSON.stringify(rec)}\n`;
    } catch (e) {
      this.drop(1, 'write-error', e);
      return;
    }
    this.batch.push(line);
    this.batchBytes += Buffer.byteLength(line);
    if (this.batchBytes >= FLUSH_BYTES) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** The newest `limit` records, newest first. */
  recent(limit: number): FlowRecord[] {
    const n = Math.min(Math.max(0, Math.floor(limit)), this.ringCount);
    const out: FlowRecord[] = [];
    for (let i = 1; i <= n; i++) {
      const r = this.ring[(this.ringNext - i + this.opts.recent) % this.opts.recent];
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** Write out everything queued. Never throws. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (this.opts.sink === 'stdout') this.flushStdout(lines);
    else if (this.opts.sink === 'file') this.flushFile(lines);
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) {
      try {
        this.fs.close(this.fd);
      } catch {
        // closing a broken file: nothing left to do
      }
      this.fd = -1;
    }
  }

  private flushStdout(lines: string[]): void {
    if ((this.stdout.writableLength ?? 0) > STDOUT_HIGH_WATER) {
      this.drop(lines.length, 'backpressure', null);
      return;
    }
    try {
      this.stdout.write(lines.join(''));
      this.recovered();
    } catch (e) {
      this.drop(lines.length, 'write-error', e);
    }
  }

  private flushFile(all: string[]): void {
    const path = this.opts.path;
    if (path === null) return;
    const lines = all.filter((l) => Buffer.byteLength(l) <= this.opts.maxBytes);
    if (lines.length < all.length) this.drop(all.length - lines.length, 'too-large', null);
    // Lines [0, done) are written.
    let done = 0;
    try {
      while (done < lines.length) {
        if (this.fd < 0) {
          this.fd = this.fs.open(path);
          this.fileSize = this.fs.size(this.fd);
        }
        // Gather as many lines as fit in the current file.
        let i = done;
        let bytes = 0;
        for (; i < lines.length; i++) {
          const b = Buffer.byteLength(lines[i] as string);
          if (this.fileSize + bytes + b > this.opts.maxBytes) break;
          bytes += b;
        }
        if (i > done) {
          this.fs.write(this.fd, Buffer.from(lines.slice(done, i).join('')));
          this.fileSize += bytes;
          this.written += i - done;
          done = i;
          this.recovered();
        }
        if (done < lines.length) this.rotate(path);
      }
    } catch (e) {
      // The part not yet written is lost; a partly written batch is cut off again so the file
      // holds only whole lines; reopen on the next flush.
      this.drop(lines.length - done, dropReason(e), e);
      if (this.fd >= 0) {
        try {
          this.fs.truncate(this.fd, this.fileSize);
        } catch {
          // nothing more to undo
        }
        try {
          this.fs.close(this.fd);
        } catch {
          // already broken
        }
        this.fd = -1;
      }
    }
  }

  private rotate(path: string): void {
    if (this.fd >= 0) this.fs.close(this.fd);
    this.fd = -1;
    const keep = this.opts.maxFiles - 1;
    if (keep <= 0) this.fs.remove(path);
    else {
      this.fs.remove(`${path}.${keep}`);
      for (let k = keep - 1; k >= 1; k--) {
        try {
          this.fs.rename(`${path}.${k}`, `${path}.${k + 1}`);
        } catch {
          // missing generation: fine
        }
      }
      this.fs.rename(path, `${path}.1`);
    }
    this.fd = this.fs.open(path);
    this.fileSize = 0;
  }

  private drop(n: number, reason: string, e: unknown): void {
    if (n <= 0) return;
    this.dropped += n;
    this.metrics?.flowlogDropped.inc({ reason }, n);
    if (this.degraded === null) {
      this.degraded = reason;
      this.log.warn('flow log sink failing; dropping flow records until it recovers', {
        reason,
        sink: this.opts.sink,
        path: this.opts.path,
        error: e instanceof Error ? e.message : undefined,
      });
    }
    this.droppedWhileDegraded += n;
  }

  private recovered(): void {
    if (this.degraded === null) return;
    this.log.info('flow log sink writing again', { dropped: this.droppedWhileDegraded, reason: this.degraded });
    this.degraded = null;
    this.droppedWhileDegraded = 0;
  }
}
