/**
 * The legacy-era (2024-11-05 … 2025-11-25) server session, one per stdio
 * connection or Streamable HTTP session:
 *
 *   awaitingInitialize → awaitingInitialized → operating (idle ⇄ busy) → closing → closed
 *
 * Pure: every effect (replies, dispatch, draining) is a named action the
 * runtime provides; every timer is a named delay set per instance from
 * `input`. The runtime forwards lifecycle messages (initialize, initialized,
 * ping, and any request outside `operating`); inside `operating` it dispatches
 * requests without a round trip through the actor, which is exactly the
 * `REQUEST → dispatch` self-transition below (see docs/architecture.md, "hot path").
 *
 * Guards and delays read only context and events: everything they decide on is
 * serializable data, so a snapshot survives `JSON.stringify` (hibernation) and a
 * pure run decides exactly as the runtime does.
 *
 * Idle timeout without per-request events: requests are served without an
 * actor step, so the chart does not count them. When `idleTimeout` elapses the
 * chart asks for the activity facts (`reportActivity`, which raises
 * `IDLE_CHECK { inFlight, idleForMs }`); `idleTimeoutExpired` decides on the
 * event: nothing in flight and the last request finished at least
 * `idleTimeoutMs` ago. If not, `operating` re-enters with the delay set to
 * what remains (`idleDelayMs` in context). So idle is counted from the last
 * in-flight request finishing, not from the last arrival, at zero cost per
 * request. The default `reportActivity` reports no activity outside the chart
 * (a pure run has none); the runtime reports its in-flight table.
 *
 * Hibernation: the runtime asks with `HIBERNATE { inFlight, outbound, idleForMs }`; only
 * `operating` with nothing in flight answers, with the `hibernate` action (the runtime then
 * keeps the persisted snapshot and stops the actor). The restored actor gets `RESUMED`.
 */
import { assign, raise, setup } from "xstate"
import type { ClientCapabilities } from "../src/protocol/capabilities.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import type { RequestId } from "../src/protocol/jsonrpc.ts"
import { LEGACY_VERSIONS, type LegacyVersion, negotiateVersion } from "../src/protocol/versions.ts"

/** How requests that arrive between the initialize response and `notifications/initialized` are treated. */
export type EarlyRequestPolicy = "reject" | "accept"

/** Per-session settings of the server chart: versions, handshake/idle/drain deadlines, early-request policy. */
export interface LegacyServerSessionInput {
  readonly supportedVersions?: ReadonlyArray<LegacyVersion>
  /** Close after this long with nothing in flight (counted from the last request finishing). 0 = never. */
  readonly idleTimeoutMs?: number
  /** Close when the handshake has not completed after this long. 0 = never. */
  readonly handshakeTimeoutMs?: number
  /** How long `closing` waits for in-flight requests before cancelling them. 0 = do not wait. Default 5 s. */
  readonly drainTimeoutMs?: number
  readonly earlyRequests?: EarlyRequestPolicy
  // When the chart starts after its connection did (the runtime starts it on the first legacy message):
  /** A modern (2026-07-28) request was served there already (that era has no handshake). */
  readonly servedModern?: boolean
  /** Time since the connection opened: the handshake deadline counts from there. Default 0. */
  readonly elapsedMs?: number
  /** Activity on the connection so far: the idle deadline counts from the last request finishing. Default none. */
  readonly activity?: ActivityFacts
}

export interface InitializeParams {
  readonly protocolVersion: string
  readonly capabilities: ClientCapabilities
  readonly clientInfo: { readonly name: string; readonly version: string; readonly [key: string]: unknown }
  readonly [key: string]: unknown
}

/** What the server chart remembers: the negotiated version, the client's capabilities and info, why it closed. */
export interface LegacyServerSessionContext {
  readonly supportedVersions: ReadonlyArray<LegacyVersion>
  readonly idleTimeoutMs: number
  readonly handshakeTimeoutMs: number
  readonly drainTimeoutMs: number
  readonly earlyRequests: EarlyRequestPolicy
  readonly protocolVersion: LegacyVersion | undefined
  readonly clientCapabilities: ClientCapabilities | undefined
  readonly clientInfo: InitializeParams["clientInfo"] | undefined
  readonly closeReason: string | undefined
  /** A modern request was served on this connection: no handshake deadline (it never initializes). */
  readonly servedModern: boolean
  /** Delay of the next handshake deadline: what remains of `handshakeTimeoutMs`, counted from the connection's start. */
  readonly handshakeDelayMs: number
  /** Delay of the next idle deadline: what remains until `idleTimeoutMs` of quiet. */
  readonly idleDelayMs: number
}

/**
 * What the runtime knows about activity outside the chart, carried by the events that need
 * a decision on it: requests in flight, and how long ago the last one finished.
 */
export interface ActivityFacts {
  readonly inFlight: number
  readonly idleForMs: number
}

/** What the runtime tells the server chart: lifecycle messages, requests, drain, close and transport end. */
export type LegacyServerSessionEvent =
  /** `elapsedMs`: time since the connection opened (the handshake deadline counts from there); absent in a pure run: 0. */
  | { readonly type: "INITIALIZE"; readonly id: RequestId; readonly params: unknown; readonly elapsedMs?: number }
  | { readonly type: "INITIALIZED" }
  | { readonly type: "PING"; readonly id: RequestId }
  | { readonly type: "REQUEST"; readonly id: RequestId; readonly method: string }
  | { readonly type: "DRAINED" }
  /** `inFlight`: requests the runtime has in flight (none: close at once, nothing to drain). */
  | { readonly type: "CLOSE"; readonly reason: string; readonly inFlight: number }
  | { readonly type: "TRANSPORT_CLOSED"; readonly reason: string }
  /** The answer to `reportActivity` when an idle (or modern-era handshake) deadline fires. */
  | ({ readonly type: "IDLE_CHECK" } & ActivityFacts)
  /** Restored from a persisted snapshot (no timers survive): decide on idleness now, re-arm for what remains. */
  | ({ readonly type: "RESUMED" } & ActivityFacts)
  /** A modern request was served on this connection: the handshake deadline no longer applies. */
  | { readonly type: "MODERN_SERVED" }
  /**
   * The runtime asks whether the session may hibernate now (`outbound`: server→client
   * requests awaiting the client's answer). Only an `operating` chart with nothing in
   * flight either way says yes, by running `hibernate`; every other state ignores it.
   */
  | ({ readonly type: "HIBERNATE"; readonly outbound: number } & ActivityFacts)

/** Close reason the chart records when the handshake deadline ends the session (the runtime maps it, e.g. to WebSocket close 4408). */
export const HANDSHAKE_TIMEOUT = "handshake timeout"
/** Close reason the chart records when the idle deadline ends the session. */
export const IDLE_TIMEOUT = "idle timeout"

/** Parameters of the `recordCloseReason` action on a deadline (events that carry a reason use theirs). */
export interface CloseReasonParams {
  readonly timeout?: typeof HANDSHAKE_TIMEOUT | typeof IDLE_TIMEOUT
}

/** Parameters of the `reject` action: the JSON-RPC error the runtime sends for `id`. */
export interface RejectParams {
  readonly id: RequestId
  readonly code: number
  readonly message: string
}

// setTimeout holds at most 2^31-1 ms; a disabled timer is parked there behind a guard.
const MAX_DELAY = 2 ** 31 - 1
const delayOf = (ms: number) => (ms > 0 ? Math.min(ms, MAX_DELAY) : MAX_DELAY)

/** Newest first: versions are dates, so lexical order is chronological (negotiateVersion falls back to the first). */
const newestFirst = (versions: ReadonlyArray<LegacyVersion>): ReadonlyArray<LegacyVersion> =>
  versions.every((v, i) => i === 0 || versions[i - 1]! > v) ? versions : [...versions].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))

export const isValidInitializeParams = (p: unknown): p is InitializeParams => {
  if (typeof p !== "object" || p === null) return false
  const o = p as Record<string, unknown>
  const info = o.clientInfo as Record<string, unknown> | undefined
  return typeof o.protocolVersion === "string" &&
    typeof o.capabilities === "object" && o.capabilities !== null && !Array.isArray(o.capabilities) &&
    typeof info === "object" && info !== null && typeof info.name === "string" && typeof info.version === "string"
}

const requestOf = (event: LegacyServerSessionEvent): RequestId =>
  "id" in event ? event.id : 0

// A second initialize is an invalid request ([SDK v1] uses -32600 as well).
const rejectReinitialize = {
  type: "reject",
  params: ({ event }: { event: LegacyServerSessionEvent }) => ({
    id: requestOf(event),
    code: ErrorCode.InvalidRequest,
    message: "Invalid Request: the session is already initialized"
  })
} as const

/** The idle deadline's delay given the activity facts: the full period while busy, else what remains (0: disabled). */
const remainingIdle = (idleTimeoutMs: number, facts: ActivityFacts): number =>
  idleTimeoutMs <= 0 ? 0 : facts.inFlight > 0 ? idleTimeoutMs : Math.max(1, idleTimeoutMs - facts.idleForMs)

/** The handshake deadline's delay `elapsedMs` after the connection opened (0: disabled). */
const remainingHandshake = (handshakeTimeoutMs: number, elapsedMs: number): number =>
  handshakeTimeoutMs > 0 ? Math.max(1, handshakeTimeoutMs - elapsedMs) : 0

// Nothing to drain: skip `closing` (and its drain timer) altogether.
const closeTransitions = [
  { guard: "nothingInFlight", target: "#legacyServerSession.closed", actions: "recordCloseReason" },
  { target: "#legacyServerSession.closing", actions: "recordCloseReason" }
] as const

const recordHandshakeTimeout = { type: "recordCloseReason", params: { timeout: HANDSHAKE_TIMEOUT } } as const
const recordIdleTimeout = { type: "recordCloseReason", params: { timeout: IDLE_TIMEOUT } } as const

/** The idle decision on the activity facts: expired → `expired`; else re-enter `state` with the deadline re-armed for what remains. */
const idleDecision = (expired: "#legacyServerSession.closing" | "#legacyServerSession.closed", state: "#legacyServerSession.operating" | "#legacyServerSession.awaitingInitialize") => [
  { guard: "idleTimeoutExpired", target: expired, actions: recordIdleTimeout },
  { guard: "idleTimeoutEnabled", target: state, reenter: true, actions: "recordIdleDelay" }
] as const

const rejectClosing = {
  type: "reject",
  params: ({ event }: { event: LegacyServerSessionEvent }) => ({
    id: requestOf(event),
    code: ErrorCode.ConnectionClosed,
    message: "Session is closing: request refused"
  })
} as const

/**
 * The legacy server session chart: awaitingInitialize → awaitingInitialized → operating →
 * closing → closed. `ServerSession` runs it for each stdio, WebSocket or HTTP session.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate"
 * import { legacyServerSessionMachine } from "mcp-actors/machines"
 *
 * // Pure steps: the next snapshot and the named actions to perform; nothing is executed.
 * const [s0] = initialTransition(legacyServerSessionMachine, { idleTimeoutMs: 60_000 })
 * const [s1, actions] = transition(legacyServerSessionMachine, s0, {
 *   type: "INITIALIZE", id: 1,
 *   params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "host", version: "1.0.0" } }
 * })
 * console.log(s1.value, actions.map((a) => a.type))           // "awaitingInitialized" […, "respondInitialize", …]
 * const [s2] = transition(legacyServerSessionMachine, s1, { type: "INITIALIZED" })
 * console.log(s2.value)                                       // "operating"
 * ```
 */
export const legacyServerSessionMachine = setup({
  types: {
    context: {} as LegacyServerSessionContext,
    events: {} as LegacyServerSessionEvent,
    input: {} as LegacyServerSessionInput
  },
  actions: {
    /** Send the InitializeResult (protocolVersion from context, capabilities, serverInfo, instructions). */
    respondInitialize: (_, _params: { readonly id: RequestId }) => {},
    /** Answer a JSON-RPC error. */
    reject: (_, _params: RejectParams) => {},
    /** Answer `ping` with `{}` — allowed in every state (basic/utilities/ping.mdx:L29). */
    replyPong: (_, _params: { readonly id: RequestId }) => {},
    /** Run a request's handler (the runtime's dispatcher). */
    dispatch: (_, _params: { readonly id: RequestId }) => {},
    /** The handshake completed: the runtime may now send requests to the client. */
    announceReady: () => {},
    /** Stop admitting requests; report DRAINED once nothing is in flight. */
    beginDrain: () => {},
    /** Abort every in-flight handler (drain deadline passed or peer gone). */
    cancelInFlight: () => {},
    /** Release the session: close the transport / forget the HTTP session. */
    release: () => {},
    /**
     * The chart allows hibernation (`HIBERNATE` in `operating`, nothing in flight): the runtime
     * keeps this chart's persisted snapshot and stops the actor; `RESUMED` on the restored
     * snapshot decides on idleness when it wakes. Without this action the runtime stays awake.
     */
    hibernate: () => {},
    /**
     * An idle deadline fired: raise `IDLE_CHECK` with the activity facts. The runtime
     * reports its in-flight table; this default reports no activity outside the chart.
     */
    reportActivity: raise(({ context }: { context: LegacyServerSessionContext }): LegacyServerSessionEvent => ({ type: "IDLE_CHECK", inFlight: 0, idleForMs: context.idleTimeoutMs })),
    recordIdleDelay: assign({
      idleDelayMs: ({ context, event }) =>
        event.type === "IDLE_CHECK" || event.type === "RESUMED" ? remainingIdle(context.idleTimeoutMs, event) : context.idleDelayMs
    }),
    recordModernServed: assign({ servedModern: true }),
    recordNegotiation: assign(({ context, event }) => {
      if (event.type !== "INITIALIZE") return {}
      const params = event.params as InitializeParams
      return {
        // The whole handshake is bounded from the connection's start: `awaitingInitialized` gets what remains.
        handshakeDelayMs: remainingHandshake(context.handshakeTimeoutMs, event.elapsedMs ?? 0),
        // "Otherwise … another protocol version it supports. This SHOULD be the latest" (lifecycle.mdx:L165-L182),
        // whatever order `supportedVersions` was given in.
        protocolVersion: negotiateVersion(params.protocolVersion, newestFirst(context.supportedVersions)),
        clientCapabilities: params.capabilities,
        clientInfo: params.clientInfo
      }
    }),
    recordCloseReason: assign({
      closeReason: ({ event }, params: CloseReasonParams | undefined) =>
        event.type === "CLOSE" || event.type === "TRANSPORT_CLOSED" ? event.reason : (params?.timeout ?? IDLE_TIMEOUT)
    })
  },
  guards: {
    validInitializeParams: ({ event }) => event.type === "INITIALIZE" && isValidInitializeParams(event.params),
    acceptsEarlyRequests: ({ context }) => context.earlyRequests === "accept",
    /** CLOSE found no request in flight (the runtime counts them into the event). */
    nothingInFlight: ({ event }) => event.type === "CLOSE" && event.inFlight === 0,
    idleTimeoutEnabled: ({ context }) => context.idleTimeoutMs > 0,
    /** The idle timeout is enabled, nothing is in flight and the last request finished ≥ idleTimeoutMs ago (facts in the event). */
    idleTimeoutExpired: ({ context, event }) =>
      (event.type === "IDLE_CHECK" || event.type === "RESUMED") &&
      context.idleTimeoutMs > 0 && event.inFlight === 0 && event.idleForMs >= context.idleTimeoutMs,
    /** Nothing in flight either way (facts in the `HIBERNATE` event): a sleeping session would lose no work. */
    canHibernate: ({ event }) => event.type === "HIBERNATE" && event.inFlight === 0 && event.outbound === 0,
    /** A dual-era connection that served modern requests never initializes: no handshake deadline for it. */
    handshakeTimeoutEnabled: ({ context }) => context.handshakeTimeoutMs > 0 && !context.servedModern
  },
  delays: {
    idleTimeout: ({ context }) => delayOf(context.idleDelayMs),
    // On a connection that served modern requests the handshake deadline counts idleness instead.
    handshakeTimeout: ({ context }) => delayOf(context.servedModern ? context.idleDelayMs : context.handshakeDelayMs),
    // No guard on the drain deadline: 0 means "cancel at once", not "park" (which would wait ~24.8 days).
    drainTimeout: ({ context }) => Math.min(Math.max(0, context.drainTimeoutMs), MAX_DELAY)
  }
}).createMachine({
  id: "legacyServerSession",
  context: ({ input }) => ({
    supportedVersions: input.supportedVersions ?? LEGACY_VERSIONS,
    idleTimeoutMs: Math.max(0, input.idleTimeoutMs ?? 0),
    handshakeTimeoutMs: Math.max(0, input.handshakeTimeoutMs ?? 0),
    drainTimeoutMs: input.drainTimeoutMs ?? 5_000,
    earlyRequests: input.earlyRequests ?? "reject",
    protocolVersion: undefined,
    clientCapabilities: undefined,
    clientInfo: undefined,
    closeReason: undefined,
    servedModern: input.servedModern ?? false,
    handshakeDelayMs: remainingHandshake(input.handshakeTimeoutMs ?? 0, input.elapsedMs ?? 0),
    idleDelayMs: remainingIdle(input.idleTimeoutMs ?? 0, input.activity ?? { inFlight: 0, idleForMs: 0 })
  }),
  initial: "awaitingInitialize",
  on: {
    // Ping is answered in every state, before and after the handshake.
    PING: { actions: { type: "replyPong", params: ({ event }) => ({ id: event.id }) } },
    // The peer went away: nothing left to drain to (stdio: exit on stdin EOF).
    TRANSPORT_CLOSED: { target: ".closed", actions: ["recordCloseReason", "cancelInFlight"] }
  },
  states: {
    awaitingInitialize: {
      after: {
        handshakeTimeout: [
          { guard: "handshakeTimeoutEnabled", target: "closed", actions: recordHandshakeTimeout },
          // A connection that only speaks the modern era never initializes (MODERN_SERVED turned
          // the handshake guard off): the same deadline counts its idleness instead.
          { guard: "idleTimeoutEnabled", actions: "reportActivity" }
        ]
      },
      on: {
        // Only a connection that has not initialized cares (its handshake deadline then counts idleness).
        MODERN_SERVED: { actions: "recordModernServed" },
        IDLE_CHECK: idleDecision("#legacyServerSession.closed", "#legacyServerSession.awaitingInitialize"),
        // lifecycle.mdx:L40-L47: initialize is the first interaction; version echoed if supported, else our latest (L165-L182).
        INITIALIZE: [
          {
            guard: "validInitializeParams",
            target: "awaitingInitialized",
            actions: ["recordNegotiation", { type: "respondInitialize", params: ({ event }) => ({ id: event.id }) }]
          },
          {
            actions: {
              type: "reject",
              params: ({ event }) => ({
                id: event.id,
                code: ErrorCode.InvalidParams,
                message: "Invalid params: initialize needs protocolVersion (string), capabilities (object) and clientInfo {name, version}"
              })
            }
          }
        ],
        // Policy: before initialize, only ping is served (lifecycle.mdx:L157-L159).
        REQUEST: {
          actions: {
            type: "reject",
            params: ({ event }) => ({
              id: event.id,
              code: ErrorCode.InvalidRequest,
              message: `Invalid Request: server not initialized; send initialize before ${event.method}`
            })
          }
        },
        CLOSE: closeTransitions
      }
    },
    awaitingInitialized: {
      after: {
        handshakeTimeout: { guard: "handshakeTimeoutEnabled", target: "closed", actions: recordHandshakeTimeout }
      },
      on: {
        INITIALIZE: { actions: rejectReinitialize },
        // lifecycle.mdx:L147: the client MUST send notifications/initialized.
        INITIALIZED: { target: "operating", actions: "announceReady" },
        // Policy for requests sent before `initialized` (a SHOULD NOT with no error code in the spec):
        // reject with -32600 by default, or treat the request as an implicit `initialized`.
        REQUEST: [
          {
            guard: "acceptsEarlyRequests",
            target: "operating",
            actions: [{ type: "dispatch", params: ({ event }) => ({ id: event.id }) }, "announceReady"]
          },
          {
            actions: {
              type: "reject",
              params: ({ event }) => ({
                id: event.id,
                code: ErrorCode.InvalidRequest,
                message: `Invalid Request: ${event.method} sent before notifications/initialized`
              })
            }
          }
        ],
        CLOSE: closeTransitions
      }
    },
    // `announceReady` runs on the transitions into `operating`, not as its entry: re-entering
    // `operating` (to re-arm the idle deadline) must not announce again. A flat state is also
    // cheaper per session than `operating.serving`: xstate's cost per step grows with depth.
    operating: {
      on: {
        INITIALIZE: { actions: rejectReinitialize },
        INITIALIZED: {},
        REQUEST: { actions: { type: "dispatch", params: ({ event }) => ({ id: event.id }) } },
        CLOSE: closeTransitions,
        IDLE_CHECK: idleDecision("#legacyServerSession.closing", "#legacyServerSession.operating"),
        // Hibernation is decided here: only an operating session with nothing in flight may sleep
        // (the handshake, a drain and the end ignore HIBERNATE, so the runtime stays awake there).
        HIBERNATE: { guard: "canHibernate", actions: "hibernate" },
        // The runtime may hibernate an idle session (keep its persisted snapshot, stop the
        // actor) and restore it on the next lifecycle event; a restored actor has no timers,
        // so RESUMED decides on idleness now and re-enters `operating` to re-arm the deadline.
        RESUMED: idleDecision("#legacyServerSession.closing", "#legacyServerSession.operating")
      },
      after: {
        // Ask for the activity facts; IDLE_CHECK decides.
        idleTimeout: { guard: "idleTimeoutEnabled", actions: "reportActivity" }
      }
    },
    closing: {
      entry: "beginDrain",
      on: {
        INITIALIZE: { actions: rejectClosing },
        REQUEST: { actions: rejectClosing },
        DRAINED: "closed",
        INITIALIZED: {}
      },
      after: { drainTimeout: { target: "closed", actions: "cancelInFlight" } }
    },
    closed: { type: "final", entry: "release" }
  }
})

/** The server session chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type LegacyServerSessionMachine = typeof legacyServerSessionMachine
