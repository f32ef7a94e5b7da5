// Registry of peer identities with small integer ids, shared by every table revision so that an
// id cached by the engine stays valid across hot reloads.
// Invariants: id 0 is the unauthenticated peer (no verified identity: a peer without an enforcer);
// ids are dense, append-only and never reused; an identity is the pair (SPIFFE ID, signed labels),
// so the same workload identity always gets the same id; interning allocates only for a new identity.
import { parseSpiffeId } from './inventory.js';

export const UNAUTHENTICATED = 0;

export interface IdentityInfo {
  readonly id: number;
  /** '' for the unauthenticated peer. */
  readonly spiffeId: string;
  /** Istio principal form: the SPIFFE ID without `spiffe://` ('' when unauthenticated). */
  readonly principal: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly authenticated: boolean;
}

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

export class IdentityRegistry {
  private readonly list: IdentityInfo[] = [];
  private readonly byKey = new Map<string, number>();

  constructor() {
    this.list.push({
      id: 0, spiffeId: '', principal: '', namespace: '', serviceAccount: '', labels: EMPTY_LABELS, authenticated: false,
    });
  }

  /** Number of ids handed out (valid ids are 0..size-1). A field, not a getter: read per lookup. */
  size = 1;

  get(id: number): IdentityInfo | undefined {
    return this.list[id];
  }

  /**
   * Returns the id of (spiffeId, labels), creating it on first sight. Caller must pass a SPIFFE ID
   * that was cryptographically verified. A SPIFFE ID that is not of the form
   * spiffe://TD/ns/NS/sa/SA still gets an id, but with no namespace or service account, so that
   * namespace- and account-based rules cannot match it.
   */
  intern(spiffeId: string, labels: Readonly<Record<string, string>> = EMPTY_LABELS): number {
    const keys = Object.keys(labels).sort();
    let key = spiffeId;
    for (const k of keys) key += `\u0000${k}\u0001${labels[k] ?? ''}`;
    const hit = this.byKey.get(key);
    if (hit !== undefined) return hit;
    const parsed = parseSpiffeId(spiffeId);
    const copy = Object.create(null) as Record<string, string>;
    for (const k of keys) copy[k] = labels[k] ?? '';
    const info: IdentityInfo = {
      id: this.list.length,
      spiffeId,
      principal: spiffeId.startsWith('spiffe://') ? spiffeId.slice('spiffe://'.length) : spiffeId,
      namespace: parsed?.namespace ?? '',
      serviceAccount: parsed?.serviceAccount ?? '',
      labels: Object.freeze(copy),
      authenticated: true,
    };
    this.list.push(info);
    this.byKey.set(key, info.id);
    this.size = this.list.length;
    return info.id;
  }
}
