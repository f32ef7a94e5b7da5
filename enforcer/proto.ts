// The .proto schemas of proto/ as text, read from the package at first use.
// Invariants: proto/ is the single source of truth for every wire schema (nothing embeds a copy);
// a file is looked up next to the source tree (enforcer/ -> ../proto) and next to the build
// (dist/enforcer/ -> ../../proto), read once per process and cached; a missing or unreadable
// file throws SyngateError SYNGATE_PROTO_MISSING naming the file and the places tried.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SyngateError } from './errors.js';

/** The schema files shipped in proto/. */
export type ProtoFile = 'token.proto' | 'flow.proto';

const cache = new Map<ProtoFile, string>();

/** Text of proto/<name>. */
export function readProtoFile(name: ProtoFile): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const tried: string[] = [];
  for (const rel of [`../proto/${name}`, `../../proto/${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    tried.push(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // the other layout (source tree vs dist/)
    }
    cache.set(name, text);
    return text;
  }
  throw new SyngateError('SYNGATE_PROTO_MISSING', `proto/${name} not found (tried ${tried.join(', ')}); the package's proto/ folder must ship next to enforcer/ or dist/`);
}
