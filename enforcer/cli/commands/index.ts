// Registry of CLI subcommands. Invariant: each entry adds exactly one top-level command
// (with its own subcommands) and reports failures through setStatus, never process.exit.
import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerCa } from './ca.js';
import { registerRun } from './run.js';
import { registerLab } from './lab.js';
import { registerPolicy } from './policy.js';
import { registerSimulate } from './simulate.js';

export type SetStatus = (status: number) => void;
export type RegisterCommand = (program: Command, setStatus: SetStatus) => void;

export const COMMANDS: RegisterCommand[] = [
  registerBench,
  registerCa,
  registerRun,
  registerLab,
  registerPolicy,
  registerSimulate,
];
