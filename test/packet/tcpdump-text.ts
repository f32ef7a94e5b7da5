// Parser for the `tcpdump -nn -S -v -tt -r` text that scripts/capture-fixtures.sh stores next to
// each fixture (*.txt): one entry per packet, with the fields the parser tests compare against.

export interface TcpdumpEntry {
  /** The packet's whole text (first line + continuation lines). */
  text: string;
  tsSec: number;
  tsUsec: number;
  proto: 'tcp' | 'udp' | 'icmp' | 'arp' | 'other';
  tos?: number;
  ttl?: number;
  id?: number;
  ipLen?: number;
  df?: boolean;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  flags?: string;
  cksumCorrect?: boolean;
  /** TCP: first sequence number when tcpdump printed one. */
  seq?: number;
  ack?: number;
  win?: number;
  /** TCP options text inside `options [...]`. */
  options?: string;
  /** TCP/UDP payload length. */
  length?: number;
}

export function parseTcpdumpText(txt: string): TcpdumpEntry[] {
  const entries: TcpdumpEntry[] = [];
  let cur: string[] = [];
  const flush = (): void => {
    if (cur.length > 0) entries.push(parseEntry(cur.join('\n')));
    cur = [];
  };
  for (const line of txt.split('\n')) {
    if (/^\d+\.\d+ /.test(line)) flush();
    if (line.trim() !== '') cur.push(line);
  }
  flush();
  return entries;
}

function num(re: RegExp, s: string): number | undefined {
  const m = re.exec(s);
  return m === null ? undefined : Number(m[1]);
}

function parseEntry(text: string): TcpdumpEntry {
  const ts = /^(\d+)\.(\d+) /.exec(text)!;
  const e: TcpdumpEntry = { text, tsSec: Number(ts[1]), tsUsec: Number(ts[2]), proto: 'other' };
  if (/^\d+\.\d+ ARP/.test(text)) {
    e.proto = 'arp';
    return e;
  }
  const ip = /IP \(tos (0x[0-9a-f]+), ttl (\d+), id (\d+), offset \d+, flags \[([^\]]*)\], proto (\w+) \(\d+\), length (\d+)\)/.exec(text);
  if (ip === null) return e;
  e.tos = Number(ip[1]);
  e.ttl = Number(ip[2]);
  e.id = Number(ip[3]);
  e.df = ip[4] === 'DF';
  e.ipLen = Number(ip[6]);
  const proto = ip[5]!;
  const second = text.split('\n')[1] ?? '';
  if (proto === 'TCP' || proto === 'UDP') {
    const a = /^\s+(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): /.exec(second);
    if (a !== null) {
      e.src = a[1]!;
      e.sport = Number(a[2]);
      e.dst = a[3]!;
      e.dport = Number(a[4]);
    }
  }
  if (proto === 'TCP') {
    e.proto = 'tcp';
    e.flags = /Flags \[([^\]]*)\]/.exec(second)?.[1] ?? '';
    e.cksumCorrect = /cksum 0x[0-9a-f]+ \(correct\)/.test(second);
    const seq = num(/, seq (\d+)/, second);
    if (seq !== undefined) e.seq = seq;
    const ack = num(/, ack (\d+)/, second);
    if (ack !== undefined) e.ack = ack;
    const win = num(/, win (\d+)/, second);
    if (win !== undefined) e.win = win;
    const opts = /options \[([^\]]*)\]/.exec(second);
    if (opts !== null) e.options = opts[1]!;
    const len = num(/, length (\d+)/, second);
    if (len !== undefined) e.length = len;
  } else if (proto === 'UDP') {
    e.proto = 'udp';
    const len = num(/UDP, length (\d+)/, second);
    if (len !== undefined) e.length = len;
  } else if (proto === 'ICMP') {
    e.proto = 'icmp';
  }
  return e;
}

/** tcpdump's flag letters for a TCP flag byte, in tcpdump's order (S F P R U W E, then `.` for ACK). */
export function tcpdumpFlags(f: number): string {
  let s = '';
  if (f & 0x02) s += 'S';
  if (f & 0x01) s += 'F';
  if (f & 0x08) s += 'P';
  if (f & 0x04) s += 'R';
  if (f & 0x20) s += 'U';
  if (f & 0x80) s += 'W';
  if (f & 0x40) s += 'E';
  if (f & 0x10) s += '.';
  return s === '' ? 'none' : s;
}
