// Generates a scale scenario (default: 1,000 workloads, 10,000 policies, 100,000 connections).
//   npx tsx examples/scale/generate.ts --workloads 1000 --policies 10000 --connections 100000 --out out/scale
//   node bin/syngate.js simulate out/scale/scenario.yaml --out out/scale-run
import { parseArgs } from 'node:util';
import { writeScale } from '../../enforcer/sim/scale.js';

{
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: '1000' },
      policies: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '100000' },
      nodes: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'out/scale' },
    },
  });
  const g = writeScale(values.out, {
    workloads: Number(values.workloads),
    policies: Number(values.policies),
    connections: Number(values.connections),
    ...(values.nodes === undefined ? {} : { nodes: Number(values.nodes) }),
    seed: Number(values.seed),
  });
  process.stdout.write(`${values.out}/scenario.yaml: ${values.workloads} workloads, ${values.policies} policies, ${values.connections} connections (${g.expectedAllow} expected allowed, ${g.expectedDeny} denied)\n`);
}
