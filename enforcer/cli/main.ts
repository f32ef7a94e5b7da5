// CLI entry. Invariant: run() never throws; it returns the process exit status
// (0 ok, 1 check/expectation failure, 2 usage or bad input). Each domain registers its
// subcommands from enforcer/cli/commands/<name>.ts; this file only wires them together.
import { Command, CommanderError } from 'commander';
import { isSyngateError } from '../errors.js';
import { COMMANDS } from './commands/index.js';

export async function run(argv: readonly string[]): Promise<number> {
  const program = new Command('syngate')
    .description('identity-aware L3/L4 microsegmentation enforcer')
    .version(process.env['npm_package_version'] ?? '0.1.0')
    .exitOverride()
    .showHelpAfterError();
  let status = 0;
  const setStatus = (s: number): void => {
    status = s;
  };
  for (const register of COMMANDS) register(program, setStatus);
  try {
    await program.parseAsync([...argv]);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isSyngateError(e)) {
      process.stderr.write(`syngate: ${e.message} [${e.code}]\n`);
      return 2;
    }
    process.stderr.write(`syngate: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 2;
  }
}
