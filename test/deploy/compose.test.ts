// deploy/docker-compose: no Docker engine runs here, so this checks the file's structure (every
// service, network, volume, capability and mounted file it references exists; images and build
// contexts are real) and its consistency with examples/bookinfo (same workloads on the same
// nodes, the same ports, addresses equal to the lab inventory's, the bookinfo policies mounted).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../enforcer/daemon/config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, 'deploy/docker-compose');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const compose = parse(readFileSync(join(DIR, 'docker-compose.yml'), 'utf8')) as Obj;
const scenario = parse(readFileSync(join(ROOT, 'examples/bookinfo/scenario.yaml'), 'utf8')) as Obj;
const inventory = parse(readFileSync(join(DIR, 'inventory.yaml'), 'utf8')) as Obj;
const services = compose['services'] as Record<string, Obj>;
const CAPS = new Set(['NET_ADMIN', 'NET_RAW']);

function bindMounts(s: Obj): { src: string; dst: string }[] {
  return ((s['volumes'] ?? []) as string[])
    .map((v) => v.split(':'))
    .filter((p) => (p[0] ?? '').startsWith('.') || (p[0] ?? '').startsWith('/'))
    .map((p) => ({ src: p[0] as string, dst: p[1] as string }));
}

describe('docker-compose.yml structure', () => {
  it('every service has an image or a build whose context and Dockerfile exist', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s['image'] ?? s['build'], name).toBeDefined();
      if (s['build'] !== undefined) {
        const ctx = join(DIR, s['build']['context'] as string);
        expect(existsSync(join(ctx, s['build']['dockerfile'] ?? 'Dockerfile')), name).toBe(true);
      }
      if (s['image'] === 'syngate:lab') expect(Object.values(services).some((o) => o['image'] === 'syngate:lab' && o['build'] !== undefined)).toBe(true);
    }
  });

  it('every network, named volume, depends_on and network_mode service referenced exists', () => {
    const nets = new Set(Object.keys(compose['networks'] as Obj));
    const vols = new Set(Object.keys(compose['volumes'] as Obj));
    for (const [name, s] of Object.entries(services)) {
      const sn = s['networks'] === undefined ? [] : Array.isArray(s['networks']) ? s['networks'] : Object.keys(s['networks']);
      for (const n of sn) expect(nets.has(n as string), `${name} -> network ${String(n)}`).toBe(true);
      for (const v of (s['volumes'] ?? []) as string[]) {
        const src = v.split(':')[0] as string;
        if (!src.startsWith('.') && !src.startsWith('/')) expect(vols.has(src), `${name} -> volume ${src}`).toBe(true);
      }
      const deps = s['depends_on'] === undefined ? [] : Array.isArray(s['depends_on']) ? s['depends_on'] : Object.keys(s['depends_on']);
      for (const d of deps) expect(services[d as string], `${name} -> depends_on ${String(d)}`).toBeDefined();
      if (typeof s['network_mode'] === 'string' && s['network_mode'].startsWith('service:')) {
        expect(services[s['network_mode'].slice(8)], `${name} -> ${String(s['network_mode'])}`).toBeDefined();
        expect(s['networks'], `${name}: network_mode and networks are exclusive`).toBeUndefined();
      }
    }
  });

  it('every bind-mounted file or folder exists in the repository', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of bindMounts(s)) expect(existsSync(join(DIR, m.src)), `${name}: ${m.src}`).toBe(true);
    }
  });

  it('capabilities: only NET_ADMIN/NET_RAW, never privileged; addresses lie in their network subnets', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s['privileged'], name).toBeUndefined();
      for (const c of (s['cap_add'] ?? []) as string[]) expect(CAPS.has(c), `${name}: ${c}`).toBe(true);
      for (const [net, cfg] of Object.entries((s['networks'] ?? {}) as Obj)) {
        const subnet = compose['networks'][net]['ipam']['config'][0]['subnet'] as string;
        const ip = cfg?.['ipv4_address'] as string | undefined;
        if (ip !== undefined) expect(ip.startsWith(subnet.replace(/\.0\/24$/, '.')), `${name} ${ip} in ${subnet}`).toBe(true);
      }
    }
    // Every address in the lab is inside 198.18.0.0/15.
    for (const n of Object.values(compose['networks'] as Obj)) expect(String(n['ipam']['config'][0]['subnet'])).toMatch(/^198\.(18|19)\./);
  });

  it('the scripts the entrypoints run exist and are mounted where they are run from', () => {
    for (const [name, s] of Object.entries(services)) {
      const ep = (s['entrypoint'] ?? []) as string[];
      const script = ep.find((a) => a.endsWith('.sh'));
      if (script === undefined) continue;
      const m = bindMounts(s).find((b) => b.dst === script);
      expect(m, `${name}: ${script} is mounted`).toBeDefined();
      expect(statSync(join(DIR, (m as { src: string }).src)).isFile()).toBe(true);
    }
  });

  it('the node config is a valid daemon config once the entry script set its variables', () => {
    const cfg = parseConfig(readFileSync(join(DIR, 'syngate.yaml'), 'utf8'), join(DIR, 'syngate.yaml'), { NODE_NAME: 'node-a', POD_IF: 'eth1' });
    expect(cfg.inventory).toEqual({ source: 'static', file: '/etc/syngate/inventory.yaml' });
    const node = services['node-a'] as Obj;
    const dsts = bindMounts(node).map((b) => b.dst);
    expect(dsts).toContain('/etc/syngate/syngate.yaml');
    expect(dsts).toContain(cfg.inventory.source === 'static' ? cfg.inventory.file : '');
    expect(dsts).toContain(cfg.policy.paths[0]);
    expect(cfg.identity.caBundle.startsWith('/pki/')).toBe(true);
    expect(node['volumes']).toContain('pki:/pki:ro');
  });
});

describe('docker-compose.yml matches examples/bookinfo', () => {
  const wls = scenario['workloads'] as Obj[];
  const key = (w: Obj): string => `${String(w['namespace'])}/${String(w['name'])}`;

  it('one node service per scenario node, routing its own pod network', () => {
    for (const n of scenario['nodes'] as string[]) {
      expect(services[n], n).toBeDefined();
      expect(Object.keys(services[n]?.['networks'] as Obj).sort()).toEqual([`pods-${n}`, 'wire'].sort());
      expect((services[n]?.['cap_add'] as string[]).sort()).toEqual(['NET_ADMIN', 'NET_RAW']);
    }
  });

  it('every workload is a pod service on its node (the rogue on the wire, without an enforcer) with its ports', () => {
    for (const w of wls) {
      const s = Object.values(services).find((x) => x['environment']?.['WORKLOAD'] === key(w));
      expect(s, key(w)).toBeDefined();
      const inv = (inventory['workloads'] as Obj[]).find((x) => key(x) === key(w));
      expect(inv, `inventory has ${key(w)}`).toBeDefined();
      const nets = (s as Obj)['networks'] as Obj;
      if (w['enforcer'] === false) {
        expect(Object.keys(nets)).toEqual(['wire']);
        expect(inv?.['enforcer']).toBe(false);
        expect(nets['wire']['ipv4_address']).toBe(inv?.['ip']);
        continue;
      }
      expect(Object.keys(nets)).toEqual([`pods-${String(w['node'])}`]);
      expect(nets[`pods-${String(w['node'])}`]['ipv4_address']).toBe(inv?.['ip']);
      expect(inv?.['node']).toBe(w['node']);
      expect(inv?.['serviceAccount']).toBe(w['serviceAccount'] ?? 'default');
      expect(inv?.['labels']).toEqual(w['labels'] ?? {});
      const ports = ((w['ports'] ?? []) as (number | Obj)[]).map((p) => (typeof p === 'number' ? p : Number(p['port'])));
      expect(String((s as Obj)['environment']['LISTEN']).split(' ').filter(Boolean).map(Number)).toEqual(ports);
    }
    expect((inventory['workloads'] as Obj[]).length).toBe(wls.length);
  });

  it('bookinfo pods have a real Envoy sidecar on the inbound port the scenario names', () => {
    const envoyPort = scenario['envoy']['inboundPort'] as number;
    const envoyCfg = parse(readFileSync(join(DIR, 'envoy.yaml'), 'utf8')) as Obj;
    expect(envoyCfg['static_resources']['listeners'][0]['address']['socket_address']['port_value']).toBe(envoyPort);
    for (const w of wls.filter((x) => x['namespace'] === 'bookinfo')) {
      const podSvc = Object.entries(services).find(([, x]) => x['environment']?.['WORKLOAD'] === key(w))?.[0] as string;
      const sidecar = services[`${podSvc}-envoy`];
      expect(sidecar, `${podSvc}-envoy`).toBeDefined();
      expect(String(sidecar?.['image'])).toMatch(/^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
      expect(sidecar?.['network_mode']).toBe(`service:${podSvc}`);
    }
  });

  it('pods call exactly the allowed call graph of the scenario', () => {
    const ipOf = new Map((inventory['workloads'] as Obj[]).map((w) => [key(w), String(w['ip'])]));
    for (const w of wls.filter((x) => x['enforcer'] !== false)) {
      const s = Object.values(services).find((x) => x['environment']?.['WORKLOAD'] === key(w)) as Obj;
      const calls = String(s['environment']['CALLS']).split(' ').filter(Boolean);
      const expected = (scenario['traffic'] as Obj[]).filter((t) => t['from'] === key(w) && t['expect'] === 'allow' && t['attack'] === undefined);
      expect(calls.length, key(w)).toBe(expected.length);
      for (const t of expected) expect(calls.some((c) => c.startsWith(`${ipOf.get(String(t['to'])) ?? '?'}:`)), `${key(w)} -> ${String(t['to'])}`).toBe(true);
    }
  });

  it('the enforcers get the bookinfo policies', () => {
    for (const n of scenario['nodes'] as string[]) {
      expect(bindMounts(services[n] as Obj).some((b) => b.src === '../../examples/bookinfo/policies')).toBe(true);
    }
  });
});
