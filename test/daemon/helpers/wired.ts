// In-process daemons for non-root tests: the real Daemon lifecycle and EngineCore (config files,
// inventory, credentials, policy folder, reload, metrics) with the datapath replaced by nothing, so
// a test joins the engines with the simulator's wire. Used by reload-under-load and revocation tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from '../../../enforcer/daemon/daemon.js';
import { EngineCore, CREDENTIAL_FILE, NODE_KEY_FILE } from '../../../enforcer/daemon/core.js';
import { parseConfig } from '../../../enforcer/daemon/config.js';
import { createLogger } from '../../../enforcer/daemon/log.js';
import { createMetrics } from '../../../enforcer/daemon/metrics.js';
import { createCa, issueNodeCredential } from '../../../enforcer/identity/index.js';
import type { AdapterState } from '../../../enforcer/datapath/types.js';
import type { WarmupResult } from '../../../enforcer/daemon/warmup.js';

/** EngineCore with the datapath replaced by the in-memory wire. */
export class WiredCore extends EngineCore {
  override async attach(onState: (s: AdapterState, err: Error | null) => void): Promise<void> {
    onState('ready', null);
  }
  override async detach(): Promise<void> {
    // nothing attached
  }
  // No JIT warm-up (enforcer/daemon/warmup.ts): these in-process daemons carry test traffic only.
  override warmUp(): WarmupResult {
    return { completed: 0, tried: 0, elapsedMs: 0, error: null };
  }
}

export interface WiredNodes {
  daemons: Daemon[];
  cores: WiredCore[];
  /** Node credential serial of each node (16 hex digits). */
  serials: string[];
}

/**
 * Writes a CA bundle, `inventory.yaml`, `policies/srv.yaml` and one credential folder per node into
 * `dir`, then starts one Daemon per node (pcap config, admin on a free port, flow log off, no
 * polling). `extraConfig(i)` adds config lines for node i.
 */
export async function startWiredNodes(dir: string, o: { nodes: readonly string[]; inventory: string; policy: string; extraConfig?: (i: number) => string[] }): Promise<WiredNodes> {
  mkdirSync(join(dir, 'policies'));
  const ca = createCa({ trustDomain: 'cluster.local' });
  writeFileSync(join(dir, 'bundle.pem'), ca.certPem);
  writeFileSync(join(dir, 'inventory.yaml'), o.inventory);
  writeFileSync(join(dir, 'policies', 'srv.yaml'), o.policy);
  const out: WiredNodes = { daemons: [], cores: [], serials: [] };
  for (const [i, n] of o.nodes.entries()) {
    const cred = issueNodeCredential(ca, { node: n });
    out.serials.push(cred.serialHex);
    mkdirSync(join(dir, n));
    writeFileSync(join(dir, n, CREDENTIAL_FILE), cred.credential);
    writeFileSync(join(dir, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const cfg = parseConfig(
      [`node: ${n}`, 'datapath: {type: pcap, inside: in0, outside: out0}', `identity: {caBundle: bundle.pem, credentials: ${n}}`, 'policy: {paths: [policies]}',
        'inventory: {source: static, file: inventory.yaml}', 'admin: 127.0.0.1:0', 'flowLog: {sink: off, recent: 50}', 'reload: {pollMillis: 60000}', ...(o.extraConfig?.(i) ?? [])].join('\n'),
      join(dir, `${n}.yaml`),
    );
    const metrics = createMetrics();
    const logger = createLogger('warn', () => undefined);
    const core = new WiredCore(cfg, logger, metrics);
    const d = new Daemon(cfg, core, { logger, metrics });
    await d.start();
    out.daemons.push(d);
    out.cores.push(core);
  }
  return out;
}
