// Test helper: `lab up` as a separate process (the crash test kills it midway).
// Usage: node --import tsx test/lab/helpers/lab-up.ts SCENARIO DIR
import { labUp } from '../../../enforcer/datapath/lab/lab.js';

const [scenario, dir] = process.argv.slice(2);
await labUp({ scenario: scenario ?? '', datapath: 'nfqueue', dir: dir ?? '' });
