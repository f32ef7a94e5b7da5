// Structured JSON logs: one object per line `{"ts","level","msg",...fields}`.
// Invariants: a log call never throws (an unserialisable field is printed as a string); records
// below the configured level cost one comparison; the sink is synchronous-by-line so lines
// never interleave.
import type { LogLevel } from './config.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export type LogSink = (line: string) => void;

/** A JSON-lines logger writing to `sink` (default: stderr). */
export function createLogger(level: LogLevel, sink: LogSink = (l) => process.stderr.write(l)): Logger {
  let min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < min) return;
    const rec: LogFields = { ts: new Date().toISOString(), level: lvl, msg, ...fields };
    let line: string;
    try {
      line = JSON.stringify(rec, (_k, v: unknown) => (v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : typeof v === 'bigint' ? v.toString() : v));
    } catch {
      line = JSON.stringify({ ts: rec['ts'], level: lvl, msg, fields: String(fields) });
    }
    try {
      sink(`${line}\n`);
    } catch {
      // A log sink failure must not take the daemon down.
    }
  };
  return {
    get level() {
      return level;
    },
    set level(l: LogLevel) {
      level = l;
      min = LEVELS[l];
    },
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
