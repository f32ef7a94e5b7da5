// `syngate lab up|test|down|status`: the network-namespace lab (docs/lab.md). Invariants: every
// subcommand takes --dir (default /run/syngate-lab) and touches only lab namespaces and that
// directory; `down` is idempotent and succeeds with nothing to do; failures are SyngateErrors
// (status 2), a `test` run with unexpected verdicts exits 1.
import type { Command } from 'commander';
import type { SetStatus } from './index.js';
import { SyngateError } from '../../errors.js';
import { DEFAULT_LAB_DIR, formatStatus, labDown, labStatus, labTest, labUp } from '../../datapath/lab/index.js';

const log = (l: string): void => {
  process.stderr.write(`${l}\n`);
};

export function registerLab(program: Command, setStatus: SetStatus): void {
  const lab = program.command('lab').description('build a scenario from network namespaces with live enforcers and drive real TCP through them (root)');
  lab
    .command('up')
    .description('create namespaces, links, enforcers, servers and stand-in Envoys for SCENARIO')
    .argument('<scenario>', 'scenario YAML (docs/scenario.md)')
    .option('--datapath <kind>', 'nfqueue | pcap', 'nfqueue')
    .option('--enforcer <kind>', 'daemon (syngate run --config per node) | engine (datapath runner with the real engine) | pass (pass-through: no policy)', 'daemon')
    .option('--dir <dir>', 'lab state directory', DEFAULT_LAB_DIR)
    .action(async (scenario: string, o: { datapath: string; enforcer: string; dir: string }) => {
      if (o.datapath !== 'nfqueue' && o.datapath !== 'pcap') throw new SyngateError('SYNGATE_LAB_USAGE', `--datapath must be nfqueue or pcap, got '${o.datapath}'`);
      if (o.enforcer !== 'engine' && o.enforcer !== 'pass' && o.enforcer !== 'daemon') throw new SyngateError('SYNGATE_LAB_USAGE', `--enforcer must be engine, daemon or pass, got '${o.enforcer}'`);
      await labUp({ scenario, datapath: o.datapath, enforcer: o.enforcer, dir: o.dir, log });
      process.stdout.write(formatStatus(labStatus({ dir: o.dir })));
      setStatus(0);
    });
  lab
    .command('test')
    .description("run the scenario's traffic as real TCP connections from the pod namespaces")
    .option('--json', 'print the same JSON document as `syngate simulate --json`')
    .option('--timeout <ms>', 'per-connection timeout', '3000')
    .option('--dir <dir>', 'lab state directory', DEFAULT_LAB_DIR)
    .action(async (o: { json?: boolean; timeout: string; dir: string }) => {
      const r = await labTest({ dir: o.dir, timeoutMs: Number(o.timeout) });
      process.stdout.write(o.json === true ? JSON.stringify(r.json, null, 2) + '\n' : r.table);
      setStatus(r.unexpected > 0 ? 1 : 0);
    });
  lab
    .command('down')
    .description('remove every namespace, link, rule and process the lab created (idempotent, works after a crash)')
    .option('--dir <dir>', 'lab state directory', DEFAULT_LAB_DIR)
    .action(async (o: { dir: string }) => {
      const r = await labDown({ dir: o.dir, log });
      setStatus(r.leftovers.length > 0 ? 1 : 0);
    });
  lab
    .command('status')
    .description('show what is up')
    .option('--json', 'machine-readable')
    .option('--dir <dir>', 'lab state directory', DEFAULT_LAB_DIR)
    .action((o: { json?: boolean; dir: string }) => {
      const s = labStatus({ dir: o.dir });
      process.stdout.write(o.json === true ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
      setStatus(0);
    });
}
