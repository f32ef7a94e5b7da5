// `syngate bench SUITE [--json] [--out DIR] [--quick] [--compare FILE]`.
// Invariants: exit status 0 when every suite ran clean or was skipped (no root), 1 when any
// sanity check failed, 2 on usage errors; with --json stdout holds only the JSON document
// (progress goes to stderr).
import type { Command } from 'commander';
import type { SetStatus } from './index.js';
import { SyngateError } from '../../errors.js';

export function registerBench(program: Command, setStatus: SetStatus): void {
  program
    .command('bench')
    .description('run a benchmark suite: engine | policy | live | flood | all (live and flood need root)')
    .argument('<suite>', 'engine, policy, live, flood or all')
    .option('--json', 'print the results as JSON on stdout (progress on stderr)')
    .option('--out <dir>', 'write JSON, markdown and SVG here (default bench/results/<timestamp>/)')
    .option('--quick', 'short runs for CI smoke tests (every suite in under 2 minutes)')
    .option('--compare <file>', 'saved result (suite JSON or result directory) to print ratios against')
    .action(async (suite: string, o: { json?: boolean; out?: string; quick?: boolean; compare?: string }) => {
      const h = await import('../../../bench/harness.js');
      const suites = suite === 'all' ? [...h.SUITES] : h.SUITES.filter((s) => s === suite);
      if (suites.length === 0) {
        throw new SyngateError('SYNGATE_BENCH_SUITE', `unknown bench suite "${suite}" (expected ${h.SUITES.join(', ')} or all)`);
      }
      const json = o.json === true;
      const log = (m: string): void => {
        (json ? process.stderr : process.stdout).write(m + '\n');
      };
      const outDir = o.out ?? h.defaultOutDir();
      const command = `syngate bench ${process.argv.slice(3).join(' ')}`.trim();
      const reports = [];
      for (const s of suites) {
        const r = await h.runSuite(s, { quick: o.quick === true, outDir, json, log, command });
        reports.push(r);
        if (!json) process.stdout.write(h.textReport(r));
        if (o.compare !== undefined) {
          const saved = h.loadSaved(o.compare, s);
          if (!saved) log(`compare: no saved "${s}" results in ${o.compare}`);
          else log(h.comparisonText(s, o.compare, h.compareReports(r, saved), { saved: saved.machine.loadavg1m, now: r.machine.loadavg1m }));
        }
      }
      if (reports.length > 1 || suite === 'live') {
        const { writeFileSync } = await import('node:fs');
        const { join } = await import('node:path');
        writeFileSync(join(outDir, 'summary.md'), h.summaryMarkdown(reports, command));
        if (!json) process.stdout.write('\n' + h.summaryMarkdown(reports, command));
      }
      log(`results written to ${outDir}/`);
      if (json) {
        const doc = reports.length === 1 ? reports[0] : { schema: 'syngate-bench-all/1', suites: reports };
        process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
      }
      const failed = reports.filter((r) => r.status === 'failed');
      for (const r of failed) process.stderr.write(`syngate bench: suite ${r.suite} FAILED: ${r.failures.length} problem(s)\n`);
      setStatus(failed.length > 0 ? 1 : 0);
    });
}
