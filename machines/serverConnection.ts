/**
 * One upstream server of the multi-server host, from "not started" to
 * "stopped": the lifecycle the host's supervision follows.
 *
 * ```
 * idle ─START/CALL_STARTED─▶ starting ─SPAWNED─▶ initializing ─READY─▶ ready ⇄ degraded
 *   ▲                          │ FAILED/timeout        │ FAILED/timeout     │ FAILED (lost) / misses
 *   └── idle timeout (lazy) ───┴──────────────▶ failed (decide) ◀──────────┘
 *                                                 ├─▶ restarting ─backoff─▶ starting
 *                                                 └─▶ parked ─probe time─▶ starting (one half-open try)
 * any ─STOP─▶ stopped (final)
 * ```
 *
 * - **Backoff and intensity** come from the shared pure policy
 *   (`src/protocol/restartPolicy.ts`, `decideRestart`): capped exponential
 *   delay with jitter, at most `maxRestarts` failures within `windowMs`
 *   (Erlang's MaxR/MaxT) before parking, and the attempt counter reset after
 *   `resetAfterMs` of uptime.
 * - **Jitter is an input**: the chart carries a 32-bit seed and steps a small
 *   PRNG (mulberry32) in context, so it stays pure and deterministic.
 * - **Time is an input**: events from the runtime carry `now`; a delayed
 *   transition knows its time as the state's entry time plus the delay. The
 *   chart never reads a clock, so tests drive it on a `SimulatedClock`.
 * - **Health** is an MCP round trip (`ping` for legacy, `server/discover` for
 *   modern), sent by the runtime for `sendHealthProbe` and answered with
 *   `HEALTH_OK` / `HEALTH_FAILED`, never PID liveness; a successful call counts
 *   as a good probe. One miss makes the server `degraded` (its catalog stays
 *   advertised, calls still go through); `maxMisses` consecutive misses fail it.
 * - **Generations**: every start increments `generation`; events from the
 *   runtime carry the generation they belong to, and stale ones (from a
 *   connection that was already replaced) are ignored.
 * - **`parked`** is a circuit breaker: it records the reason and the time of
 *   the next probe; the probe is one start, and a failure of that probe parks
 *   again at once (half-open → open).
 *
 * Effects are named actions the runtime supplies with `.provide`:
 * `openConnection` (spawn / connect the transport → `SPAWNED` or `FAILED`),
 * `startHandshake` (initialize or discover, list the catalog → `READY` or
 * `FAILED`), `sendHealthProbe`, `closeConnection`, and `reportStatus` (every
 * state entry; the host chart provides it as `sendParent`).
 */
import { assign, setup } from "xstate"
import { decideRestart, initialRestartState, type RestartPolicy, type RestartState } from "../src/protocol/restartPolicy.ts"
import { nextRandom } from "../src/protocol/backoff.ts"

/** `keep-alive`: started with the host and kept running; `lazy`: started by the first call, stopped after `idleTimeoutMs` idle. */
export type ServerLifecycle = "keep-alive" | "lazy"

/** One server's supervision settings, plus the jitter seed and the creation time, which are inputs so the chart stays pure. */
export interface ServerConnectionInput {
  readonly name: string
  readonly lifecycle?: ServerLifecycle
  /** The pure restart policy plus how long a parked server waits before its probe start. */
  readonly restart: RestartPolicy & { readonly parkedProbeMs: number }
  /** Deadline for each of starting and initializing. */
  readonly connectTimeoutMs: number
  /** Lazy servers: stop after this long with no call in flight. */
  readonly idleTimeoutMs?: number
  /** `false` disables health probing. */
  readonly health: { readonly intervalMs: number; readonly timeoutMs: number; readonly maxMisses: number } | false
  /** Seed of the jitter PRNG (e.g. from `crypto.getRandomValues` at start; fixed in tests). */
  readonly seed: number
  /** The time at creation (ms). */
  readonly now: number
}

/** The chart's context: settings, restart state, generation, PRNG seed and what the host reports about the server. */
export interface ServerConnectionContext {
  readonly name: string
  readonly lifecycle: ServerLifecycle
  readonly policy: RestartPolicy & { readonly parkedProbeMs: number }
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly health: ServerConnectionInput["health"]
  readonly restartState: RestartState
  /** Incremented on each start; runtime events carry the generation they belong to. */
  readonly generation: number
  /** The last known time (from an event's `now`, or entry time + delay for a delayed transition). */
  readonly now: number
  /** When the current state was entered (for delayed transitions). */
  readonly enteredAt: number
  /** When `ready` was last entered (the idle timer's start). */
  readonly activeAt: number
  readonly readySince: number | undefined
  /** Restarts done so far (backoff restarts, manual restarts and park probes). */
  readonly restarts: number
  /** The backoff before the next start. */
  readonly delayMs: number
  readonly lastError: string | undefined
  /** Set while parked: why, and when the probe start happens. */
  readonly parked: { readonly reason: string; readonly nextProbeAt: number } | undefined
  /** The current start is a park probe (half-open circuit): its failure parks again. */
  readonly probing: boolean
  readonly misses: number
  readonly inFlight: number
  readonly seed: number
  readonly protocolVersion: string | undefined
  /** The latest decision of `failed`. */
  readonly parking: boolean
}

type Stamp = { readonly now: number }
type Gen = { readonly generation: number }
/** Commands from the host and reports from the runtime; each carries `now`, and runtime reports their generation so stale ones are ignored. */
export type ServerConnectionEvent =
  | ({ readonly type: "START" } & Stamp)
  | ({ readonly type: "STOP"; readonly reason?: string } & Stamp)
  | ({ readonly type: "RESTART" } & Stamp)
  | ({ readonly type: "CALL_STARTED" } & Stamp)
  | ({ readonly type: "CALL_ENDED"; readonly ok: boolean } & Stamp)
  | ({ readonly type: "SPAWNED" } & Stamp & Gen)
  | ({ readonly type: "READY"; readonly protocolVersion: string | undefined } & Stamp & Gen)
  | ({ readonly type: "FAILED"; readonly reason: string } & Stamp & Gen)
  | ({ readonly type: "HEALTH_OK" } & Stamp & Gen)
  | ({ readonly type: "HEALTH_FAILED"; readonly reason: string } & Stamp & Gen)

/** The jitter's PRNG step (src/protocol/backoff.ts), re-exported where it was first defined. */
export { nextRandom }

const eventNow = (context: ServerConnectionContext, event: { readonly type: string }): number =>
  "now" in event && typeof event.now === "number" ? Math.max(context.now, event.now) : context.now

/** The failure being decided: an event's reason, or the timeout of the state we are leaving. */
const failureReason = (event: { readonly type: string }, fallback: string): string =>
  "reason" in event && typeof event.reason === "string" ? event.reason : fallback

/** The supervision lifecycle of one upstream server (diagram in this file's header): pure, on explicit time and seeded jitter. */
export const serverConnectionMachine = setup({
  types: {
    context: {} as ServerConnectionContext,
    events: {} as ServerConnectionEvent,
    input: {} as ServerConnectionInput
  },
  actions: {
    /** Effect: spawn the process / open the socket for `context.generation`; answer SPAWNED or FAILED. */
    openConnection: () => {},
    /** Effect: MCP handshake (era probe, initialize/discover) and catalog listing; answer READY or FAILED. */
    startHandshake: () => {},
    /** Effect: `ping` (legacy) or `server/discover` (modern); answer HEALTH_OK or HEALTH_FAILED. */
    sendHealthProbe: () => {},
    /** Effect: close the connection of the current generation (stdin close → SIGTERM → SIGKILL of the group). */
    closeConnection: () => {},
    /** Effect: tell whoever supervises this connection its new state (the host chart provides `sendParent`). */
    reportStatus: (_: unknown, _params: { readonly state: ServerConnectionState }) => {},
    stamp: assign({ now: ({ context, event }) => eventNow(context, event) }),
    markEntered: assign({ enteredAt: ({ context }) => context.now }),
    /** A delayed transition fired: time advanced by exactly that delay since the state's entry. */
    advanceConnectTimeout: assign({ now: ({ context }) => Math.max(context.now, context.enteredAt + context.connectTimeoutMs) }),
    advanceBackoff: assign({ now: ({ context }) => Math.max(context.now, context.enteredAt + context.delayMs) }),
    advanceHealthInterval: assign({
      now: ({ context }) => Math.max(context.now, context.enteredAt + (context.health === false ? 0 : context.health.intervalMs))
    }),
    advanceHealthTimeout: assign({
      now: ({ context }) => Math.max(context.now, context.enteredAt + (context.health === false ? 0 : context.health.timeoutMs))
    }),
    advanceIdle: assign({ now: ({ context }) => Math.max(context.now, context.activeAt + context.idleTimeoutMs) }),
    markActive: assign({ activeAt: ({ context }) => context.now }),
    advanceParked: assign({ now: ({ context }) => context.parked?.nextProbeAt ?? context.now }),
    nextGeneration: assign({ generation: ({ context }) => context.generation + 1, misses: 0 }),
    recordTimeout: assign({
      lastError: ({ context }) => `timed out after ${context.connectTimeoutMs} ms`
    }),
    recordFailure: assign({ lastError: ({ event }) => failureReason(event, "failed") }),
    recordUnresponsive: assign({
      lastError: ({ context }) => `unresponsive: ${context.misses} health probes missed`
    }),
    /** `decideRestart` with this failure's time, uptime and the next jitter number. */
    decide: assign(({ context }) => {
      const [random, seed] = nextRandom(context.seed)
      const reason = context.lastError ?? "failed"
      const decision = decideRestart(
        context.policy,
        context.restartState,
        context.readySince === undefined
          ? { type: "connect-failed", reason }
          : { type: "ended", reason, uptimeMs: context.now - context.readySince },
        context.now,
        random
      )
      if (context.probing || decision.next === "parked") {
        const why = decision.next === "parked" ? decision.reason : `probe failed: ${reason}`
        return {
          seed,
          restartState: decision.state,
          readySince: undefined,
          parking: true,
          parked: { reason: why, nextProbeAt: context.now + context.policy.parkedProbeMs }
        }
      }
      return { seed, restartState: decision.state, readySince: undefined, parking: false, delayMs: decision.delayMs }
    }),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    beginProbe: assign({ probing: true, parked: undefined }),
    manualRestart: assign({ delayMs: 0, restartState: initialRestartState, probing: false, parked: undefined, readySince: undefined }),
    recordReady: assign(({ context, event }) => ({
      readySince: context.now,
      protocolVersion: event.type === "READY" ? event.protocolVersion : context.protocolVersion,
      probing: false,
      parked: undefined,
      misses: 0,
      lastError: undefined
    })),
    resetMisses: assign({ misses: 0 }),
    recordMiss: assign({ misses: ({ context }) => context.misses + 1 }),
    callStarted: assign({ inFlight: ({ context }) => context.inFlight + 1 }),
    callEnded: assign({ inFlight: ({ context }) => Math.max(0, context.inFlight - 1) })
  },
  guards: {
    isLazy: ({ context }) => context.lifecycle === "lazy",
    isCurrent: ({ context, event }) => "generation" in event && event.generation === context.generation,
    isParking: ({ context }) => context.parking,
    healthEnabled: ({ context }) => context.health !== false,
    /** The miss being recorded now is the `maxMisses`-th in a row. */
    isFinalMiss: ({ context }) => context.health !== false && context.misses + 1 >= context.health.maxMisses,
    isCurrentFinalMiss: ({ context, event }) =>
      "generation" in event && event.generation === context.generation && context.health !== false &&
      context.misses + 1 >= context.health.maxMisses,
    callSucceeded: ({ event }) => event.type === "CALL_ENDED" && event.ok,
    isLazyAndQuiet: ({ context }) => context.lifecycle === "lazy" && context.inFlight === 0
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    backoff: ({ context }) => context.delayMs,
    healthInterval: ({ context }) => (context.health === false ? 0 : context.health.intervalMs),
    healthTimeout: ({ context }) => (context.health === false ? 0 : context.health.timeoutMs),
    idleTimeout: ({ context }) => context.idleTimeoutMs,
    parkedProbe: ({ context }) => Math.max(0, (context.parked?.nextProbeAt ?? context.now) - context.now)
  }
}).createMachine({
  id: "serverConnection",
  context: ({ input }) => ({
    name: input.name,
    lifecycle: input.lifecycle ?? "keep-alive",
    policy: input.restart,
    connectTimeoutMs: input.connectTimeoutMs,
    idleTimeoutMs: input.idleTimeoutMs ?? 300_000,
    health: input.health,
    restartState: initialRestartState,
    generation: 0,
    now: input.now,
    enteredAt: input.now,
    activeAt: input.now,
    readySince: undefined,
    restarts: 0,
    delayMs: 0,
    lastError: undefined,
    parked: undefined,
    probing: false,
    misses: 0,
    inFlight: 0,
    seed: input.seed | 0,
    protocolVersion: undefined,
    parking: false
  }),
  initial: "boot",
  on: {
    STOP: { target: ".stopped", actions: "stamp" },
    CALL_STARTED: { actions: ["stamp", "callStarted"] },
    CALL_ENDED: { actions: ["stamp", "callEnded"] }
  },
  states: {
    /** Transient: keep-alive servers start at once, lazy ones wait for their first call. */
    boot: {
      always: [{ guard: "isLazy", target: "idle" }, { target: "starting" }]
    },
    /** Lazy and not running: its last known catalog is still served; a call (or START) starts it. */
    idle: {
      entry: { type: "reportStatus", params: { state: "idle" } },
      on: {
        START: { target: "starting", actions: "stamp" },
        CALL_STARTED: { target: "starting", actions: ["stamp", "callStarted"] }
      }
    },
    /** Spawning the process / opening the socket. */
    starting: {
      entry: ["nextGeneration", "markEntered", { type: "reportStatus", params: { state: "starting" } }, "openConnection"],
      after: { connectTimeout: { target: "failed", actions: ["advanceConnectTimeout", "recordTimeout"] } },
      on: {
        SPAWNED: { guard: "isCurrent", target: "initializing", actions: "stamp" },
        FAILED: { guard: "isCurrent", target: "failed", actions: ["stamp", "recordFailure"] }
      }
    },
    /** The MCP handshake (era probe; initialize or discover) and the first catalog listing. */
    initializing: {
      entry: ["markEntered", { type: "reportStatus", params: { state: "initializing" } }, "startHandshake"],
      after: { connectTimeout: { target: "failed", actions: ["advanceConnectTimeout", "recordTimeout"] } },
      on: {
        READY: { guard: "isCurrent", target: "ready", actions: ["stamp", "recordReady"] },
        FAILED: { guard: "isCurrent", target: "failed", actions: ["stamp", "recordFailure"] }
      }
    },
    /** Serving; health probed every `health.intervalMs` while quiet. */
    ready: {
      entry: ["markActive", { type: "reportStatus", params: { state: "ready" } }],
      initial: "waiting",
      after: {
        idleTimeout: { guard: "isLazyAndQuiet", target: "idle", actions: ["advanceIdle", "closeConnection"] }
      },
      on: {
        FAILED: { guard: "isCurrent", target: "failed", actions: ["stamp", "recordFailure"] },
        // A finished call is proof of life and activity: restart the probe interval and the idle timer.
        CALL_ENDED: { target: "ready", reenter: true, actions: ["stamp", "callEnded", "resetMisses"] },
        RESTART: { target: "restarting", actions: ["stamp", "closeConnection", "manualRestart"] }
      },
      states: {
        waiting: {
          entry: "markEntered",
          after: { healthInterval: { guard: "healthEnabled", target: "probing", actions: "advanceHealthInterval" } }
        },
        probing: {
          entry: ["markEntered", "sendHealthProbe"],
          after: { healthTimeout: { target: "#serverConnection.degraded", actions: ["advanceHealthTimeout", "recordMiss"] } },
          on: {
            HEALTH_OK: { guard: "isCurrent", target: "waiting", actions: ["stamp", "resetMisses"] },
            HEALTH_FAILED: { guard: "isCurrent", target: "#serverConnection.degraded", actions: ["stamp", "recordMiss"] }
          }
        }
      }
    },
    /** A health probe was missed: still advertised and callable, probed again until it answers or misses too often. */
    degraded: {
      entry: { type: "reportStatus", params: { state: "degraded" } },
      initial: "waiting",
      on: {
        FAILED: { guard: "isCurrent", target: "failed", actions: ["stamp", "recordFailure"] },
        CALL_ENDED: [
          { guard: "callSucceeded", target: "ready", actions: ["stamp", "callEnded", "resetMisses"] },
          { actions: ["stamp", "callEnded"] }
        ],
        RESTART: { target: "restarting", actions: ["stamp", "closeConnection", "manualRestart"] }
      },
      states: {
        waiting: {
          entry: "markEntered",
          after: { healthInterval: { target: "probing", actions: "advanceHealthInterval" } }
        },
        probing: {
          entry: ["markEntered", "sendHealthProbe"],
          after: {
            healthTimeout: [
              { guard: "isFinalMiss", target: "#serverConnection.failed", actions: ["advanceHealthTimeout", "recordMiss", "recordUnresponsive"] },
              { target: "waiting", actions: ["advanceHealthTimeout", "recordMiss"] }
            ]
          },
          on: {
            HEALTH_OK: { guard: "isCurrent", target: "#serverConnection.ready", actions: ["stamp", "resetMisses"] },
            HEALTH_FAILED: [
              { guard: "isCurrentFinalMiss", target: "#serverConnection.failed", actions: ["stamp", "recordMiss", "recordUnresponsive"] },
              { guard: "isCurrent", target: "waiting", actions: ["stamp", "recordMiss"] }
            ]
          }
        }
      }
    },
    /** Transient: close what is left and let the restart policy decide between backoff and park. */
    failed: {
      entry: ["closeConnection", "decide"],
      always: [{ guard: "isParking", target: "parked" }, { target: "restarting" }]
    },
    /** Waiting `delayMs` (jittered exponential backoff) before the next start. */
    restarting: {
      entry: ["markEntered", { type: "reportStatus", params: { state: "restarting" } }],
      after: { backoff: { target: "starting", actions: ["advanceBackoff", "countRestart"] } },
      on: { RESTART: { target: "starting", actions: ["stamp", "manualRestart", "countRestart"] } }
    },
    /** Circuit open: too many failures (or a failed probe). One probe start at `parked.nextProbeAt`. */
    parked: {
      entry: ["markEntered", { type: "reportStatus", params: { state: "parked" } }],
      after: { parkedProbe: { target: "starting", actions: ["advanceParked", "beginProbe", "countRestart"] } },
      on: { RESTART: { target: "starting", actions: ["stamp", "manualRestart", "countRestart"] } }
    },
    stopped: {
      type: "final",
      entry: ["closeConnection", { type: "reportStatus", params: { state: "stopped" } }]
    }
  }
})

/** The type of `serverConnectionMachine`. */
export type ServerConnectionMachine = typeof serverConnectionMachine
/** The top-level state names, as reported to the host. */
export type ServerConnectionState = "idle" | "starting" | "initializing" | "ready" | "degraded" | "restarting" | "parked" | "stopped"
