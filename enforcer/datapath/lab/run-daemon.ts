// Entry for the lab's `--enforcer daemon` mode: `syngate run --config FILE` from source or build
// (bin/syngate.js needs a build; the lab also runs from source under tsx).
import { run } from '../../cli/main.js';

process.exitCode = await run(process.argv);
// The nfqueue binding keeps its poll handle alive after the daemon stops: exit explicitly.
process.exit();
