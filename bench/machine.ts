// Machine description recorded next to every benchmark result.
// Invariant: machineInfo() never throws; a field it cannot read is recorded as 'unknown', not omitted,
// so two result files can always be compared field by field.
import { cpus, totalmem, release, platform, arch, loadavg, hostname } from 'node:os';
import { readFileSync } from 'node:fs';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  platform: string;
  node: string;
  v8: string;
  openssl: string;
  hostname: string;
  loadavg1m: number;
  /** e.g. "KVM" when /sys says so; 'unknown' otherwise. */
  virtualization: string;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  const vendor = readOr('/sys/class/dmi/id/sys_vendor', 'unknown');
  const product = readOr('/sys/class/dmi/id/product_name', '');
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    platform: `${platform()}/${arch()}`,
    node: process.versions.node,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? 'unknown',
    hostname: hostname(),
    loadavg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    virtualization: product === '' ? vendor : `${vendor} ${product}`,
  };
}

/** One markdown line describing the machine, for result tables. */
export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, OpenSSL ${m.openssl}` +
    (m.virtualization !== 'unknown' ? `, ${m.virtualization}` : '');
}
