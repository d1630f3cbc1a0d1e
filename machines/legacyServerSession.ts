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
 * Idle timeout without per-request events: when `idleTimeout` elapses the
 * guard `idleTimeoutExpired` asks whether nothing is in flight and the
 * last request finished at least `idleTimeoutMs` ago (the runtime provides the
 * facts; the default assumes no activity, as in a pure run). If not, `operating`
 * re-enters and the delay is re-armed for the remaining time. So idle is
 * counted from the last in-flight request finishing, not from the last
 * arrival, at zero cost per request.
 */
import { assign, setup } from "xstate"
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
  /**
   * Opaque handle the runtime's provided implementations use to reach their
   * session (so one provided machine serves every session). The chart never reads it.
   */
  readonly runtime?: unknown
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
  /** See `LegacyServerSessionInput.runtime`. */
  readonly runtime: unknown
}

/** What the runtime tells the server chart: lifecycle messages, requests, drain, close and transport end. */
export type LegacyServerSessionEvent =
  | { readonly type: "INITIALIZE"; readonly id: RequestId; readonly params: unknown }
  | { readonly type: "INITIALIZED" }
  | { readonly type: "PING"; readonly id: RequestId }
  | { readonly type: "REQUEST"; readonly id: RequestId; readonly method: string }
  | { readonly type: "DRAINED" }
  | { readonly type: "CLOSE"; readonly reason: string }
  | { readonly type: "TRANSPORT_CLOSED"; readonly reason: string }
  | { readonly type: "RESUMED" }

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

// Nothing to drain: skip `closing` (and its drain timer) altogether.
const closeTransitions = [
  { guard: "nothingInFlight", target: "#legacyServerSession.closed", actions: "recordCloseReason" },
  { target: "#legacyServerSession.closing", actions: "recordCloseReason" }
] as const

const recordHandshakeTimeout = { type: "recordCloseReason", params: { timeout: HANDSHAKE_TIMEOUT } } as const

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
    recordNegotiation: assign(({ context, event }) => {
      if (event.type !== "INITIALIZE") return {}
      const params = event.params as InitializeParams
      return {
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
    /** No request is in flight (runtime-provided; the pure default assumes there may be). */
    nothingInFlight: () => false,
    idleTimeoutEnabled: ({ context }) => context.idleTimeoutMs > 0,
    /**
     * The idle timeout is enabled, nothing is in flight and the last request
     * finished ≥ idleTimeoutMs ago. The runtime provides the activity facts;
     * the pure default assumes no activity since the timer was armed.
     */
    idleTimeoutExpired: ({ context }) => context.idleTimeoutMs > 0,
    handshakeTimeoutEnabled: ({ context }) => context.handshakeTimeoutMs > 0
  },
  delays: {
    idleTimeout: ({ context }) => delayOf(context.idleTimeoutMs),
    handshakeTimeout: ({ context }) => delayOf(context.handshakeTimeoutMs),
    // No guard on the drain deadline: 0 means "cancel at once", not "park" (which would wait ~24.8 days).
    drainTimeout: ({ context }) => Math.min(Math.max(0, context.drainTimeoutMs), MAX_DELAY)
  }
}).createMachine({
  id: "legacyServerSession",
  context: ({ input }) => ({
    supportedVersions: input.supportedVersions ?? LEGACY_VERSIONS,
    idleTimeoutMs: input.idleTimeoutMs ?? 0,
    handshakeTimeoutMs: input.handshakeTimeoutMs ?? 0,
    drainTimeoutMs: input.drainTimeoutMs ?? 5_000,
    earlyRequests: input.earlyRequests ?? "reject",
    protocolVersion: undefined,
    clientCapabilities: undefined,
    clientInfo: undefined,
    closeReason: undefined,
    runtime: input.runtime
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
          // A connection that only speaks the modern era never initializes (the runtime then
          // disables the handshake guard): the same deadline counts its idleness instead.
          { guard: "idleTimeoutExpired", target: "closed", actions: { type: "recordCloseReason", params: { timeout: IDLE_TIMEOUT } } },
          { guard: "idleTimeoutEnabled", target: "awaitingInitialize", reenter: true }
        ]
      },
      on: {
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
        // The runtime may hibernate an idle session (stop the actor, keep its persisted
        // snapshot) and restore it on the next lifecycle event; a restored actor has no
        // timers, so RESUMED re-enters `operating` to re-arm the idle deadline for what remains.
        RESUMED: { target: "operating", reenter: true }
      },
      after: {
        idleTimeout: [
          { guard: "idleTimeoutExpired", target: "closing", actions: { type: "recordCloseReason", params: { timeout: IDLE_TIMEOUT } } },
          // Activity since the timer was armed: re-arm for what remains.
          { guard: "idleTimeoutEnabled", target: "operating", reenter: true }
        ]
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
