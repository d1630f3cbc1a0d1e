/**
 * The Effect runtime of mcp-actors: clocks for xstate actors, the session
 * registry, the supervisor that owns session lifetimes, and client restart
 * supervision.
 *
 * @since 0.1.0
 */
export type { PeerInfo, SessionEnd, SessionHandle, SessionInfo } from "./SessionHandle.ts"
export { type Clock, makeEffectClock, makeRealClock, realClock, type TrackedRealClock, type XStateClock } from "./XStateClock.ts"
export { type CoarseClock, makeCoarseClock } from "./CoarseClock.ts"
export {
  DuplicateSessionId,
  makeRegistryUnsafe,
  Registry,
  type RegistryChange,
  RegistryEntry,
  type RegistryUnsafe
} from "./Registry.ts"
export {
  awaitEnded,
  type ShutdownOptions,
  type SpawnOptions,
  type SpawnUnsafeOptions,
  Supervisor,
  type SupervisorOptions,
  type SupervisorStats,
  SupervisorShutDown
} from "./Supervisor.ts"
export {
  backoffDelayMs,
  decideRestart,
  defaultRestartPolicy,
  initialRestartState,
  makeRestartPolicy,
  type RestartDecision,
  type RestartEvent,
  type RestartPolicy,
  type RestartState
} from "./RestartPolicy.ts"
export { supervise, type SuperviseOptions, type Supervised, type SupervisionStatus } from "./supervise.ts"
export { defaultMcpRuntime, type ListenerNode, makeMcpRuntime, type McpRuntime, type McpRuntimeOptions, tell } from "./McpRuntime.ts"
