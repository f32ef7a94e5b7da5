// Public surface of the simulator: the in-memory wire, the TCP endpoint model and (as they land)
// the scenario loader, the runner and the dependency map.
export { Prng } from './prng.js';
export {
  TcpHost,
  TcpConnection,
  type TcpHostOptions,
  type TcpState,
  type RxRecord,
  type ConnectOptions,
} from './tcp-endpoint.js';
export {
  Wire,
  FakeClock,
  PASS_THROUGH,
  describeFrame,
  type SimEnforcer,
  type SimResult,
  type Hop,
  type HookAction,
  type WireHook,
  type WireFrameEvent,
  type WireDecision,
  type WireOptions,
  type WireStats,
} from './wire.js';
export {
  parseFrame,
  writeFrame,
  ipToU32,
  u32ToIp,
  macForIp,
  TCP_FIN,
  TCP_SYN,
  TCP_RST,
  TCP_PSH,
  TCP_ACK,
  type ParsedFrame,
  type TcpFrameSpec,
} from './frame.js';
