// Headless Chromium for the dependency map: screenshot a page to PNG and dump its DOM after its
// scripts ran. Invariants: the browser gets a fresh temporary profile that is removed afterwards,
// no network (the page is a local file; background networking, sync, component updates and QUIC
// are off), and a hard timeout after which the child is killed; failures come back as values,
// never as exceptions.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | null {
  const env = process.env['CHROMIUM_PATH'];
  if (env !== undefined && env !== '' && existsSync(env)) return env;
  for (const c of CHROMIUM_CANDIDATES) if (existsSync(c)) return c;
  return null;
}

export interface ChromiumRun {
  ok: boolean;
  stdout: string;
  error: string | null;
}

function runChromium(args: string[], timeoutMs: number): Promise<ChromiumRun> {
  const bin = findChromium();
  if (bin === null) return Promise.resolve({ ok: false, stdout: '', error: 'chromium not found (set CHROMIUM_PATH or install Debian\'s chromium)' });
  const profile = mkdtempSync(join(tmpdir(), 'syngate-chromium-'));
  const base = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
  ];
  return new Promise((done) => {
    execFile(bin, [...base, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err !== null) done({ ok: false, stdout: String(stdout), error: `${err.message}\n${String(stderr).slice(-2000)}` });
      else done({ ok: true, stdout: String(stdout), error: null });
    });
  });
}

/** Renders `htmlPath` and writes a PNG screenshot to `pngPath`. */
export async function screenshot(htmlPath: string, pngPath: string, size: { width: number; height: number }, timeoutMs = 60_000): Promise<ChromiumRun> {
  const w = Math.max(320, Math.min(8000, Math.round(size.width)));
  const h = Math.max(240, Math.min(8000, Math.round(size.height)));
  const r = await runChromium([`--window-size=${w},${h}`, '--hide-scrollbars', `--screenshot=${resolve(pngPath)}`, pathToFileURL(resolve(htmlPath)).href], timeoutMs);
  if (r.ok && !existsSync(pngPath)) return { ok: false, stdout: r.stdout, error: 'chromium exited without writing the screenshot' };
  return r;
}

/** The serialized DOM of `htmlPath` after its scripts ran. */
export function dumpDom(htmlPath: string, timeoutMs = 60_000): Promise<ChromiumRun> {
  return runChromium(['--dump-dom', pathToFileURL(resolve(htmlPath)).href], timeoutMs);
}
