#!/usr/bin/env node
// Long-run fuzzing: `npm run fuzz -- --minutes N [--filter SUBSTR]`.
// Invariants:
//  - runs exactly the files test/**/*.fuzz.test.ts, one file at a time, with the same properties as
//    `npm test` (test/fuzz/params.ts switches them to time-limited mode);
//  - phase 1 counts the properties (each run once), phase 2 gives each property an equal share of
//    N minutes (SYNGATE_FUZZ_SHARE_MS), so the whole run takes about N minutes;
//  - a property runs synchronously for its whole share, and vitest's worker RPC times out after
//    60 s without an event-loop turn; a generated setup file (node_modules/.cache/, not source)
//    yields one macrotask after every test, and a share longer than 50 s is split into passes
//    (new seeds each pass, executions summed);
//  - prints a progress line at least every 30 s and, at the end, the executions per property;
//    exits 1 if any property failed (its counterexample and seed are in vitest's output above),
//    2 on bad usage.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function usage(msg) {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- --minutes N [--filter SUBSTR]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let minutes = 10;
let filter = '';
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--minutes' || a === '-m') minutes = Number(args[++i]);
  else if (a?.startsWith('--minutes=')) minutes = Number(a.slice('--minutes='.length));
  else if (a === '--filter') filter = args[++i] ?? '';
  else if (a === '--help' || a === '-h') usage('help');
  else usage(`unknown argument ${a}`);
}
if (!(minutes > 0) || minutes > 24 * 60) usage('--minutes must be a number > 0 (at most 1440)');

function findFuzzFiles(dir, out = []) {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) findFuzzFiles(p, out);
    else if (e.endsWith('.fuzz.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

const files = findFuzzFiles(join(root, 'test')).filter((f) => f.includes(filter));
if (files.length === 0) usage(`no test/**/*.fuzz.test.ts files${filter ? ` matching "${filter}"` : ''}`);

function readStats(dir) {
  const out = [];
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, n), 'utf8')));
    } catch {
      /* being written */
    }
  }
  return out;
}

const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs');

// Lets the worker's event loop turn after every test so vitest's RPC replies are processed while
// long synchronous properties run back to back. Generated, so it needs no source file of its own.
const setupDir = join(root, 'node_modules', '.cache', 'syngate-fuzz');
mkdirSync(setupDir, { recursive: true });
const setupFile = join(setupDir, 'yield-after-each.mjs');
writeFileSync(setupFile, "import { afterEach } from 'vitest';\nafterEach(() => new Promise((r) => setImmediate(r)));\n");
// vitest has no --setupFiles flag: a generated config extends the project's and adds the file.
const fuzzConfig = join(setupDir, 'vitest.fuzz.config.mjs');
writeFileSync(
  fuzzConfig,
  [
    "import { mergeConfig } from 'vitest/config';",
    `import base from ${JSON.stringify(join(root, 'vitest.config.ts'))};`,
    `export default mergeConfig(base, { root: ${JSON.stringify(root)}, test: { setupFiles: [${JSON.stringify(setupFile)}] } });`,
    '',
  ].join('\n'),
);

function runVitest(env, testTimeoutMs, onTick, quiet) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [vitestBin, 'run', '--no-file-parallelism', `--testTimeout=${testTimeoutMs}`, `--config=${fuzzConfig}`, ...files],
      { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'] },
    );
    let captured = '';
    if (quiet) {
      child.stdout.on('data', (d) => (captured += d));
      child.stderr.on('data', (d) => (captured += d));
    }
    const tick = onTick ? setInterval(onTick, 30_000) : undefined;
    child.on('exit', (code, signal) => {
      if (tick) clearInterval(tick);
      resolve({ code: code ?? (signal ? 1 : 0), output: captured });
    });
  });
}

const fmtTime = (ms) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;

// Phase 1: count the properties (each runs once).
const discoverDir = mkdtempSync(join(tmpdir(), 'syngate-fuzz-discover-'));
process.stdout.write(`fuzz: ${files.length} file(s): ${files.join(', ')}\nfuzz: counting properties...\n`);
const disc = await runVitest({ SYNGATE_FUZZ_DISCOVER: '1', SYNGATE_FUZZ_STATS_DIR: discoverDir }, 120_000, undefined, true);
const discovered = readStats(discoverDir);
rmSync(discoverDir, { recursive: true, force: true });
if (disc.code !== 0) {
  process.stdout.write(disc.output);
  process.stderr.write('fuzz: the properties fail even with one run each; fix that first (output above)\n');
  process.exit(1);
}
const count = Math.max(1, discovered.length);
const totalMs = minutes * 60_000;
// Leave ~5% for vitest start-up and per-file overhead.
const shareMs = Math.max(1000, Math.floor((totalMs * 0.95) / count));
const passes = Math.max(1, Math.ceil(shareMs / 50_000));
const passShareMs = Math.max(500, Math.floor(shareMs / passes));
process.stdout.write(
  `fuzz: ${discovered.length} properties using fuzzParams(); ${minutes} min total -> ${(shareMs / 1000).toFixed(1)} s each` +
    (passes > 1 ? ` in ${passes} passes of ${(passShareMs / 1000).toFixed(1)} s` : '') +
    '\n',
);

// Phase 2: the long run.
const statsDir = mkdtempSync(join(tmpdir(), 'syngate-fuzz-stats-'));
const t0 = Date.now();
const progress = () => {
  const st = readStats(statsDir);
  const execs = st.reduce((a, s) => a + s.numRuns, 0);
  process.stdout.write(
    `fuzz: [${fmtTime(Date.now() - t0)} / ~${fmtTime(totalMs)}] ${st.length}/${count * passes} property runs done, ${execs.toLocaleString('en-US')} executions so far\n`,
  );
};
const res = { code: 0 };
for (let pass = 1; pass <= passes; pass++) {
  if (passes > 1) process.stdout.write(`fuzz: pass ${pass}/${passes}\n`);
  const r = await runVitest(
    {
      SYNGATE_FUZZ_MINUTES: String(minutes),
      SYNGATE_FUZZ_SHARE_MS: String(passShareMs),
      SYNGATE_FUZZ_STATS_DIR: statsDir,
    },
    // One test may hold several properties; never let vitest cut a property short.
    passShareMs * count + 120_000,
    progress,
    false,
  );
  if (r.code !== 0) res.code = r.code;
  if (r.code !== 0 && readStats(statsDir).some((x) => x.failed)) break;
}
const raw = readStats(statsDir);
// Sum the passes per property.
const merged = new Map();
for (const x of raw) {
  const k = `${x.file}\u0000${x.name}`;
  const m = merged.get(k);
  if (!m) merged.set(k, { ...x });
  else {
    m.numRuns += x.numRuns;
    m.numSkips += x.numSkips;
    m.ms += x.ms;
    m.failed = m.failed || x.failed;
    if (x.failed) m.seed = x.seed;
  }
}
const stats = [...merged.values()].sort((a, b) => (a.file + a.name).localeCompare(b.file + b.name));
rmSync(statsDir, { recursive: true, force: true });

const w = Math.min(90, Math.max(8, ...stats.map((s) => s.name.length)));
process.stdout.write(`\nfuzz: executions per property (${fmtTime(Date.now() - t0)} elapsed)\n`);
process.stdout.write(`${'property'.padEnd(w)}  ${'executions'.padStart(12)}  ${'skipped'.padStart(8)}  ${'seconds'.padStart(8)}  outcome\n`);
let total = 0;
for (const s of stats) {
  total += s.numRuns;
  const outcome = s.failed ? `FAILED (seed ${s.seed})` : s.interrupted ? 'ok (time limit)' : 'ok (run count reached)';
  process.stdout.write(
    `${s.name.slice(0, w).padEnd(w)}  ${s.numRuns.toLocaleString('en-US').padStart(12)}  ${String(s.numSkips).padStart(8)}  ${(s.ms / 1000).toFixed(1).padStart(8)}  ${outcome}\n`,
  );
}
process.stdout.write(`${'total'.padEnd(w)}  ${total.toLocaleString('en-US').padStart(12)}\n`);
const failedProps = stats.filter((s) => s.failed);
if (res.code !== 0 || failedProps.length > 0) {
  process.stderr.write(`fuzz: FAILED (${failedProps.length} property failure(s); vitest exit ${res.code}); counterexamples above\n`);
  process.exit(1);
}
process.stdout.write(`fuzz: nothing found in ${stats.length} properties\n`);
