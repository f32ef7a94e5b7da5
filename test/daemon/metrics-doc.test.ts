// Every metric the daemon (and `simulate --out`) exports is documented in docs/metrics.md, and
// follows the naming rules: syngate_ prefix, counters end in _total, no unit-less durations.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createMetrics } from '../../enforcer/daemon/metrics.js';

const DOC = readFileSync(join(resolve(import.meta.dirname, '../..'), 'docs/metrics.md'), 'utf8');

describe('docs/metrics.md', () => {
  it('documents every syngate metric, and names follow the Prometheus conventions', async () => {
    const fams = await createMetrics({ processMetrics: true }).registry.getMetricsAsJSON();
    const ours = fams.filter((f) => f.name.startsWith('syngate_'));
    expect(ours.length).toBeGreaterThan(25);
    for (const f of ours) {
      expect(DOC, f.name).toContain(`\`${f.name}\``);
      if (String(f.type) === 'counter') expect(f.name, f.name).toMatch(/_total$/);
      else expect(f.name, f.name).not.toMatch(/_total$/);
      expect(f.name).not.toMatch(/_(ms|milliseconds|kb|mb)(_|$)/);
    }
    // Everything else is prom-client's standard process/runtime set.
    for (const f of fams.filter((x) => !x.name.startsWith('syngate_'))) expect(f.name).toMatch(/^(process|nodejs)_/);
  });
});
