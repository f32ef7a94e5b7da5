// The lab's state file: everything `lab down` needs to remove what `lab up` created, even after a
// crash. Invariants: the file is written (atomically, by rename) BEFORE each resource is created, so
// it always lists a superset of what exists; processes are identified by PID plus their kernel start
// time, so a recycled PID is never signalled; the state directory holds only lab files.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabDatapath, LabPlan } from './plan.js';

export const DEFAULT_LAB_DIR = '/run/syngate-lab';
export const STATE_FILE = 'state.json';

/** What runs as each node's enforcer: the runner with the engine or a pass-through handler, or `syngate run`. */
export type LabEnforcer = 'engine' | 'pass' | 'daemon';

export interface LabProcess {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot), or -1 when unknown. */
  start: number;
  role: 'enforcer' | 'app' | 'envoy' | 'capture';
  /** Node name or workload id. */
  owner: string;
  ns: string;
  log: string;
}

export interface LabState {
  version: 1;
  dir: string;
  prefix: string;
  scenario: string;
  datapath: LabDatapath;
  enforcer: LabEnforcer;
  createdAt: string;
  phase: 'creating' | 'up' | 'failed';
  /** Namespaces that may exist (written before creation). */
  namespaces: string[];
  processes: LabProcess[];
  plan: Omit<LabPlan, 'steps'>;
  error?: string;
}

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function readState(dir: string): LabState | null {
  const p = statePath(dir);
  if (!existsSync(p)) return null;
  try {
    const s = JSON.parse(readFileSync(p, 'utf8')) as LabState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

export function writeState(s: LabState): void {
  mkdirSync(s.dir, { recursive: true });
  const p = statePath(s.dir);
  writeFileSync(`${p}.tmp`, JSON.stringify(s, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
}

/** Kernel start time of PID (field 22 of /proc/PID/stat), or -1 if the process is gone. */
export function procStart(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state; Z = exited, not yet reaped); field 22 is rest[19].
    if (rest[0] === 'Z' || rest[0] === 'X') return -1;
    return Number(rest[19] ?? -1);
  } catch {
    return -1;
  }
}

/** True iff the recorded process is still the same live process. */
export function sameProcess(p: Pick<LabProcess, 'pid' | 'start'>): boolean {
  const s = procStart(p.pid);
  return s >= 0 && (p.start < 0 || s === p.start);
}
