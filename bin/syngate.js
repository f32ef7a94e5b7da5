#!/usr/bin/env node
// Entry shim: runs the compiled CLI. `npm install` builds dist/ through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/enforcer/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('syngate: dist/ is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
const { run } = await import(main);
process.exitCode = await run(process.argv);
