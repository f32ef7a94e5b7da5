// SPIFFE ID parsing and validation (SPIFFE-ID spec, section 2).
// Invariants: parseSpiffeId never throws; a returned ParsedSpiffeId is canonical: scheme
// `spiffe`, a lowercase trust domain of [a-z0-9._-], a path of non-empty segments of
// [A-Za-z0-9._-] that are not `.` or `..`, no query, fragment, port, userinfo or trailing slash.
// `namespace`/`serviceAccount` are filled only for the Kubernetes shape `/ns/<ns>/sa/<sa>`.
import { SyngateError } from '../errors.js';

export const SPIFFE_ID_MAX_LENGTH = 2048;
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

export interface ParsedSpiffeId {
  readonly id: string;
  readonly trustDomain: string;
  /** Path including the leading slash; '' for a trust-domain-only ID. */
  readonly path: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type SpiffeParse = { ok: true; value: ParsedSpiffeId } | { ok: false; error: string };

/** Parses `id`; returns a reason string naming what is wrong instead of throwing. */
export function parseSpiffeId(id: string, opts: { allowTrustDomainOnly?: boolean } = {}): SpiffeParse {
  if (typeof id !== 'string' || id.length === 0) return { ok: false, error: 'empty SPIFFE ID' };
  if (id.length > SPIFFE_ID_MAX_LENGTH) return { ok: false, error: `longer than ${SPIFFE_ID_MAX_LENGTH} bytes` };
  const sep = id.indexOf('://');
  if (sep < 0) return { ok: false, error: 'missing scheme (expected spiffe://)' };
  const scheme = id.slice(0, sep);
  if (scheme !== 'spiffe') return { ok: false, error: `wrong scheme "${scheme}" (expected spiffe)` };
  const rest = id.slice(sep + 3);
  if (rest.includes('?')) return { ok: false, error: 'query not allowed' };
  if (rest.includes('#')) return { ok: false, error: 'fragment not allowed' };
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (td.length === 0) return { ok: false, error: 'empty trust domain' };
  if (td.includes('@')) return { ok: false, error: 'userinfo not allowed in trust domain' };
  if (td.includes(':')) return { ok: false, error: 'port not allowed in trust domain' };
  if (!TRUST_DOMAIN_RE.test(td)) {
    return { ok: false, error: `trust domain "${td}" has characters outside [a-z0-9._-]` };
  }
  if (path === '') {
    if (opts.allowTrustDomainOnly === true) {
      return { ok: true, value: { id, trustDomain: td, path: '', namespace: '', serviceAccount: '' } };
    }
    return { ok: false, error: 'missing path (expected spiffe://<trust-domain>/<path>)' };
  }
  const segs = path.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] ?? '';
    if (s.length === 0) {
      return { ok: false, error: i === segs.length - 1 ? 'trailing slash not allowed' : 'empty path segment' };
    }
    if (s === '.' || s === '..') return { ok: false, error: `path segment "${s}" not allowed` };
    if (!SEGMENT_RE.test(s)) return { ok: false, error: `path segment "${s}" has characters outside [A-Za-z0-9._-]` };
  }
  let namespace = '';
  let serviceAccount = '';
  if (segs.length === 4 && segs[0] === 'ns' && segs[2] === 'sa') {
    namespace = segs[1] ?? '';
    serviceAccount = segs[3] ?? '';
  }
  return { ok: true, value: { id, trustDomain: td, path, namespace, serviceAccount } };
}

/** Validates a bare trust domain name (e.g. `cluster.local`). */
export function validTrustDomain(td: string): string | undefined {
  if (typeof td !== 'string' || td.length === 0) return 'empty trust domain';
  if (td.length > 255) return 'trust domain longer than 255 bytes';
  if (!TRUST_DOMAIN_RE.test(td)) return `trust domain "${td}" has characters outside [a-z0-9._-]`;
  return undefined;
}

/**
 * Edge validation: returns the parsed ID or throws SYNGATE_IDENTITY_BAD_SPIFFE_ID.
 * With `trustDomain`, an ID from another trust domain is refused unless it is listed in
 * `allowForeign`.
 */
export function requireSpiffeId(
  id: string,
  opts: { trustDomain?: string; allowForeign?: readonly string[]; what?: string } = {},
): ParsedSpiffeId {
  const what = opts.what ?? 'SPIFFE ID';
  const r = parseSpiffeId(id);
  if (!r.ok) throw new SyngateError('SYNGATE_IDENTITY_BAD_SPIFFE_ID', `${what} "${id}": ${r.error}`);
  const td = opts.trustDomain;
  if (td !== undefined && r.value.trustDomain !== td && !(opts.allowForeign ?? []).includes(r.value.trustDomain)) {
    throw new SyngateError(
      'SYNGATE_IDENTITY_FOREIGN_TRUST_DOMAIN',
      `${what} "${id}" is in trust domain "${r.value.trustDomain}", not "${td}" (allow it explicitly to issue across trust domains)`,
    );
  }
  return r.value;
}
