// Runs the syngate CLI entry (run()) in process and captures what it writes.
// Invariants: stdout and stderr are restored even when run() throws; nothing is spawned.
import { vi } from 'vitest';
import { run } from '../../enforcer/cli/main.js';

export interface CliResult {
  status: number;
  out: string;
  err: string;
}

/** `syngate ...args`: exit status and everything written to stdout and stderr. */
export async function runCli(...args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  try {
    const status = await run(['node', 'syngate', ...args]);
    return { status, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
