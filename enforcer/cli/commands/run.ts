// `syngate run --config FILE`: the enforcer daemon. Invariants: the config is validated completely
// before anything else happens (bad config: message naming file:line and field, status 2, no
// packet touched); the command resolves only when the daemon has stopped (SIGTERM/SIGINT), with
// its exit status; `--check-config` validates and exits without starting.
import type { Command } from 'commander';
import type { SetStatus } from './index.js';
import { loadConfig, runDaemon } from '../../daemon/index.js';

export function registerRun(program: Command, setStatus: SetStatus): void {
  program
    .command('run')
    .description('run the enforcer daemon (datapath, hot reload, admin server on /metrics /healthz /readyz /flows /map)')
    .requiredOption('-c, --config <file>', 'daemon configuration (YAML; see docs/config.md)')
    .option('--check-config', 'validate the configuration and exit (0 valid, 2 invalid)')
    .action(async (opts: { config: string; checkConfig?: boolean }) => {
      const config = loadConfig(opts.config);
      if (opts.checkConfig === true) {
        process.stdout.write(`${opts.config}: ok (datapath ${config.datapath.type}, inventory ${config.inventory.source}, admin ${config.admin.host}:${config.admin.port})\n`);
        setStatus(0);
        return;
      }
      setStatus(await runDaemon(config));
    });
}
