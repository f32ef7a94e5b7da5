// `syngate simulate SCENARIO.yaml [--json] [--out DIR] [--seed N]`: the embedded default.
// Invariants: stdout carries exactly the table or exactly the JSON document (progress, warnings
// and "wrote ..." lines go to stderr when --json is given); the exit status is 0 when every
// connection matched its expectation, 1 when any did not, 2 for bad input (via SyngateError).
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { SyngateError } from '../../errors.js';
import { createCluster, formatTable, loadScenario, buildScenarioPolicy, runScenario, simMetricsText, toJson, writeOutputs } from '../../sim/index.js';
import type { SetStatus } from './index.js';

interface SimulateOpts {
  json?: boolean;
  out?: string;
  seed?: string;
  screenshot?: boolean;
  progress?: boolean;
}

/** Progress reporter: a redrawn bar on a TTY, else a line per 10 % (runs of 1,000+ connections). */
export function progressReporter(stream: NodeJS.WriteStream, enabled: boolean): { update: (done: number, total: number) => void; end: () => void } {
  const t0 = performance.now();
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let lastDecile = 0;
  let drawn = false;
  return {
    update(done: number, total: number): void {
      if (!enabled || total <= 0) return;
      const now = performance.now();
      const secs = ((now - t0) / 1000).toFixed(1);
      if (tty) {
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const fill = Math.round((done / total) * width);
        stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor((done / total) * 100)).padStart(3)}% ${done}/${total} connections ${secs}s`);
        drawn = true;
      } else if (total >= 1000) {
        const decile = Math.floor((done / total) * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          stream.write(`simulate: ${decile * 10}% (${done}/${total} connections, ${secs}s)\n`);
        }
      }
    },
    end(): void {
      if (drawn) stream.write('\n');
    },
  };
}

export function registerSimulate(program: Command, setStatus: SetStatus): void {
  program
    .command('simulate')
    .description('play a scenario through the real engines over an in-memory wire and print the verdict table')
    .argument('<scenario>', 'scenario YAML (docs/scenario.md)')
    .option('--json', 'print the JSON document instead of the table')
    .option('--out <dir>', 'write flows.jsonl, metrics.prom, map.html and map.png into DIR')
    .option('--seed <n>', 'seed for every random choice (default: the scenario\'s seed, else 1)')
    .option('--no-screenshot', 'with --out: do not render map.png')
    .option('--no-progress', 'never show progress')
    .action(async (file: string, opts: SimulateOpts) => {
      let seed: number | undefined;
      if (opts.seed !== undefined) {
        const n = Number(opts.seed);
        if (!/^\d+$/.test(opts.seed) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new SyngateError('SYNGATE_SIM_SCENARIO', `--seed: expected an integer 0..4294967295, got ${JSON.stringify(opts.seed)}`);
        seed = n;
      }
      const t0 = performance.now();
      const scenario = loadScenario(file);
      const policy = buildScenarioPolicy(scenario);
      for (const w of policy.warnings) process.stderr.write(`${w}\n`);
      const total = scenario.traffic.reduce((n, t) => n + t.count, 0);
      if (opts.progress !== false && total >= 1000) {
        process.stderr.write(
          `simulate: ${scenario.workloads.length} workloads on ${scenario.nodes.length} nodes, ${policy.policies.length} policies compiled, ${total} connections to play (setup ${((performance.now() - t0) / 1000).toFixed(1)}s)\n`,
        );
      }
      const progress = progressReporter(process.stderr, opts.progress !== false);
      const result = await runScenario(scenario, policy, {
        ...(seed === undefined ? {} : { seed }),
        cluster: createCluster,
        progress: progress.update,
        metrics: (m) => simMetricsText(m, { mode: scenario.mode }),
      });
      progress.end();
      if (opts.json === true) process.stdout.write(JSON.stringify(toJson(result)) + '\n');
      else process.stdout.write(formatTable(result, { color: process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined }));
      const note = opts.json === true ? process.stderr : process.stdout;
      if (opts.out !== undefined) {
        const w = await writeOutputs(result, opts.out, { title: `syngate: ${relative(process.cwd(), resolve(file)) || file}`, screenshot: opts.screenshot !== false });
        note.write(`wrote ${w.flows} (${result.flows.length} records), ${w.metrics}, ${w.map}${w.png === null ? '' : `, ${w.png}`}\n`);
        if (w.pngError !== null && opts.screenshot !== false) process.stderr.write(`simulate: map.png not written: ${w.pngError.split('\n')[0] ?? ''}\n`);
        note.write(`open the dependency map: ${resolve(w.map)}\n`);
      }
      if (result.summary.unexpected > 0) {
        process.stderr.write(`simulate: ${result.summary.unexpected} unexpected result(s):\n`);
        for (const c of result.connections.filter((x) => x.unexpected).slice(0, 20)) {
          process.stderr.write(`  ${c.from} -> ${c.to}:${c.port}${c.attack === null ? '' : ` (${c.attack})`}: ${c.verdict} ${c.reason}: ${c.note}\n`);
        }
        setStatus(1);
      } else setStatus(0);
    });
}
