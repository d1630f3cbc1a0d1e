/**
 * The client side of one legacy-era (2024-11-05 … 2025-11-25) MCP session:
 * connect → initialize → operating → closing → closed, with typed failure reasons.
 *
 * An actor tree: while `operating`, the keepalive (`machines/keepalive.ts`) runs as an
 * invoked child (`keepalive`); for the session's whole life, its requests in flight run in
 * the invoked child `requests` (`machines/outboundRequests.ts`: the `outboundRequest`
 * chart once per request, `idle` ⇄ `busy`). One `inspect` observer on the session actor
 * sees the session, its keepalive and its requests. The runtime sends a request's events
 * to `requests` directly: a request costs no step of this chart.
 *
 * Pure chart: every effect is a named action (`sendInitialize`, `sendInitialized`,
 * `replyPong`, `disconnect`, `drainAndClose`, `forceClose`) whose implementation the
 * runtime supplies with `.provide({ actions })`; the children's effects (`sendPing`,
 * `pingMissed`; the request chart's `sendCancelled`) are supplied with `.provide({ actors })`. The runtime
 * reads what it needs from the snapshot's context (e.g. `requestedVersion`); the context
 * is plain data. Every delay (`initializeTimeout`, `closeTimeout`; the keepalive's
 * `pingInterval`, `pingTimeout`) defaults to a value taken from input.
 *
 * Gate for outbound requests: the `operating` state carries the tag `ready`. The
 * runtime SHOULD NOT send requests other than pings before it is set
 * (2025-11-25/basic/lifecycle.mdx:L157-L159) and MUST only use negotiated
 * capabilities (`serverCapabilities` in context; 2025-11-25/basic/lifecycle.mdx:L217-L220).
 */
import { assign, sendTo, setup } from "xstate"
import type { ServerCapabilities } from "../src/protocol/capabilities.ts"
import type { RpcErrorObject } from "../src/protocol/errors.ts"
import type { RequestId } from "../src/protocol/jsonrpc.ts"
import { isLegacyVersion, LATEST_LEGACY_VERSION, LEGACY_VERSIONS, type LegacyVersion } from "../src/protocol/versions.ts"
import type { PeerInfo } from "../src/protocol/implementation.ts"
import { type KeepaliveEvent, type KeepaliveInput, keepaliveMachine, type KeepaliveOutput, keepaliveSettingsFrom, type KeepaliveSettings } from "./keepalive.ts"
import { outboundRequestsLogic } from "./outboundRequests.ts"

/** Deadline for the `initialize` answer when the input does not say (the SDKs' request timeout). */
export const DEFAULT_INITIALIZE_TIMEOUT_MS = 60_000
/** Grace for a graceful close before the transport is forced shut, when the input does not say. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000

/** Per-session settings of the client chart: versions, deadlines, and the keepalive's. */
export interface LegacyClientSessionInput extends KeepaliveInput {
  /**
   * The version sent in `initialize`; it SHOULD be the latest the client supports
   * (2025-11-25/basic/lifecycle.mdx:L165-L182). Default: the first of `supportedVersions`.
   */
  readonly protocolVersion?: LegacyVersion
  /** Versions this client accepts in the server's answer; narrows `LEGACY_VERSIONS`. */
  readonly supportedVersions?: ReadonlyArray<LegacyVersion>
  /** Deadline for the `initialize` response. Default 60 s. */
  readonly initializeTimeoutMs?: number
  /** Grace period for `drainAndClose` before `forceClose`. Default 5 s. */
  readonly closeTimeoutMs?: number
}

/** Why a session failed or died; `reason` is a human-readable summary. */
export type LegacyClientFailure =
  | {
    readonly _tag: "UnsupportedProtocolVersion"
    readonly reason: string
    /** What we sent in `initialize`. */
    readonly requested: LegacyVersion
    /** What the server answered (any JSON value). */
    readonly received: unknown
    readonly supported: ReadonlyArray<LegacyVersion>
  }
  | { readonly _tag: "InitializeTimeout"; readonly reason: string; readonly timeoutMs: number }
  | { readonly _tag: "InitializeError"; readonly reason: string; readonly error: RpcErrorObject }
  | { readonly _tag: "PeerUnresponsive"; readonly reason: "peer unresponsive"; readonly misses: number }
  | { readonly _tag: "TransportLost"; readonly reason: string }

/** What the client chart remembers: the negotiated version and server capabilities, and why it ended. */
export interface LegacyClientSessionContext {
  /** The keepalive child's settings (it keeps its own `misses`). */
  readonly keepalive: KeepaliveSettings
  readonly requestedVersion: LegacyVersion
  readonly supportedVersions: ReadonlyArray<LegacyVersion>
  readonly initializeTimeoutMs: number
  readonly closeTimeoutMs: number
  /** Set once `initialize` succeeded. */
  readonly protocolVersion: LegacyVersion | undefined
  readonly serverCapabilities: ServerCapabilities | undefined
  readonly serverInfo: PeerInfo | undefined
  readonly instructions: string | undefined
  /** Set on `failed` and `dead`. */
  readonly failure: LegacyClientFailure | undefined
  /** Why the session ended (every final state sets it). */
  readonly closeReason: string | undefined
}

/**
 * Events the runtime sends:
 * - `TRANSPORT_READY`: the transport is connected (stdio spawned, socket open);
 * - `INITIALIZE_RESULT` / `INITIALIZE_ERROR`: the answer to our `initialize` request;
 * - `INITIALIZE_LOST`: the transport failed our `initialize` request while staying up (HTTP: its
 *   response was lost or unreadable), so no answer can come;
 * - `PING_RECEIVED`: the server pinged us (answer in every state);
 * - `PONG` / `PING_FAILED` / `PING_UNSUPPORTED` / `PEER_ACTIVITY`: forwarded to the keepalive child (see keepalive.ts);
 * - `TRANSPORT_CLOSED`: the transport ended (`expected` false for a crash or a drop);
 * - `CLOSE`: the user asked for a graceful close; `CLOSED`: `drainAndClose` finished.
 */
export type LegacyClientSessionEvent =
  | { readonly type: "TRANSPORT_READY" }
  | {
    readonly type: "INITIALIZE_RESULT"
    readonly protocolVersion: unknown
    readonly capabilities: ServerCapabilities
    readonly serverInfo: PeerInfo
    readonly instructions?: string
  }
  | { readonly type: "INITIALIZE_ERROR"; readonly error: RpcErrorObject }
  | { readonly type: "INITIALIZE_LOST"; readonly reason: string }
  | { readonly type: "xstate.done.actor.keepalive"; readonly output: KeepaliveOutput; readonly actorId: string }
  | { readonly type: "PING_RECEIVED"; readonly id: RequestId }
  | KeepaliveEvent
  | { readonly type: "TRANSPORT_CLOSED"; readonly expected: boolean; readonly reason: string }
  | { readonly type: "CLOSE"; readonly reason?: string }
  | { readonly type: "CLOSED" }

/** Final states map onto `SessionEnd` (`src/runtime/SessionHandle.ts`). */
export interface LegacyClientSessionOutput {
  readonly expected: boolean
  readonly reason: string
  readonly failure: LegacyClientFailure | undefined
}

/**
 * The legacy client session chart: connect → initialize → operating (keepalive child; requests child throughout)
 * → closing → closed, or failed / dead with a typed reason. `ClientSession` runs it.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate"
 * import { legacyClientSessionMachine } from "mcp-actors/machines"
 *
 * const [connecting] = initialTransition(legacyClientSessionMachine, { keepalive: false })
 * const [initializing, toSend] = transition(legacyClientSessionMachine, connecting, { type: "TRANSPORT_READY" })
 * console.log(toSend.map((a) => a.type))                       // ["sendInitialize", …]
 * const [operating] = transition(legacyClientSessionMachine, initializing, {
 *   type: "INITIALIZE_RESULT", protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "notes", version: "1.0.0" }
 * })
 * console.log(operating.hasTag("ready"))                        // true: requests may be sent now
 * ```
 */
export const legacyClientSessionMachine = setup({
  types: {
    context: {} as LegacyClientSessionContext,
    events: {} as LegacyClientSessionEvent,
    input: {} as LegacyClientSessionInput,
    output: {} as LegacyClientSessionOutput,
    tags: {} as "ready"
  },
  actors: {
    /** The keepalive (a child of `operating`); the runtime provides its `sendPing`/`pingMissed`. */
    keepalive: keepaliveMachine,
    /** The requests in flight, each running the `outboundRequest` chart; the runtime provides its `sendCancelled`. */
    requests: outboundRequestsLogic()
  },
  actions: {
    // --- effects (provided by the runtime) ---
    /** Send `initialize` with `context.requestedVersion`, our capabilities and clientInfo. */
    sendInitialize: () => {},
    /** Send `notifications/initialized`. */
    sendInitialized: () => {},
    /** Answer the server's ping with `{}` (params: the event's `id`). */
    replyPong: () => {},
    /** Drop the connection without draining (the session cannot continue). */
    disconnect: () => {},
    /** Refuse new requests, let in-flight ones finish, close the transport; then send `CLOSED`. */
    drainAndClose: () => {},
    /** `closeTimeout` elapsed: cancel what is left and tear the transport down (SIGTERM/SIGKILL). */
    forceClose: () => {},
    // --- children ---
    /** Keepalive traffic goes to the keepalive child. */
    forwardToKeepalive: sendTo("keepalive", ({ event }) => event as KeepaliveEvent),
    // --- context updates ---
    recordInitializeResult: assign(({ event }) => {
      if (event.type !== "INITIALIZE_RESULT") return {}
      return {
        protocolVersion: event.protocolVersion as LegacyVersion,
        serverCapabilities: event.capabilities,
        serverInfo: event.serverInfo,
        instructions: event.instructions
      }
    }),
    recordUnsupportedVersion: assign(({ context, event }) => {
      const received = event.type === "INITIALIZE_RESULT" ? event.protocolVersion : undefined
      const reason = `server answered protocol version ${JSON.stringify(received)}, ` +
        `not one of ${context.supportedVersions.join(", ")}`
      return {
        failure: {
          _tag: "UnsupportedProtocolVersion",
          reason,
          requested: context.requestedVersion,
          received,
          supported: context.supportedVersions
        },
        closeReason: reason
      }
    }),
    recordInitializeTimeout: assign(({ context }) => {
      const reason = `no initialize response within ${context.initializeTimeoutMs} ms`
      return { failure: { _tag: "InitializeTimeout", reason, timeoutMs: context.initializeTimeoutMs }, closeReason: reason }
    }),
    recordInitializeError: assign(({ event }) => {
      if (event.type !== "INITIALIZE_ERROR") return {}
      const reason = `initialize failed: ${event.error.code} ${event.error.message}`
      return { failure: { _tag: "InitializeError", reason, error: event.error }, closeReason: reason }
    }),
    recordPeerUnresponsive: assign(({ event }) => ({
      failure: {
        _tag: "PeerUnresponsive",
        reason: "peer unresponsive",
        misses: event.type === "xstate.done.actor.keepalive" ? event.output.misses : 0
      },
      closeReason: "peer unresponsive"
    })),
    recordTransportLost: assign(({ event }) => {
      const reason = event.type === "TRANSPORT_CLOSED" || event.type === "INITIALIZE_LOST" ? event.reason : "transport lost"
      return { failure: { _tag: "TransportLost", reason }, closeReason: reason }
    }),
    recordTransportClosed: assign({
      closeReason: ({ event }) => event.type === "TRANSPORT_CLOSED" ? event.reason : "transport closed"
    }),
    recordCloseRequested: assign({
      closeReason: ({ event }) => event.type === "CLOSE" && event.reason !== undefined ? event.reason : "closed by client"
    })
  },
  guards: {
    /**
     * The server's version is one we support: a known legacy version that is also
     * in our (possibly narrowed) list. Otherwise the client SHOULD disconnect
     * (2025-11-25/basic/lifecycle.mdx:L165-L182; schema: "If the client cannot support this version, it MUST disconnect").
     */
    isSupportedVersion: ({ context, event }) =>
      event.type === "INITIALIZE_RESULT" &&
      isLegacyVersion(event.protocolVersion) &&
      context.supportedVersions.includes(event.protocolVersion),
    isExpectedClose: ({ event }) => event.type === "TRANSPORT_CLOSED" && event.expected
  },
  delays: {
    initializeTimeout: ({ context }) => context.initializeTimeoutMs,
    closeTimeout: ({ context }) => context.closeTimeoutMs
  }
}).createMachine({
  id: "legacyClientSession",
  context: ({ input }) => {
    const supportedVersions = input?.supportedVersions ?? LEGACY_VERSIONS
    return {
      keepalive: keepaliveSettingsFrom(input),
      requestedVersion: input?.protocolVersion ?? supportedVersions[0] ?? LATEST_LEGACY_VERSION,
      supportedVersions,
      initializeTimeoutMs: input?.initializeTimeoutMs ?? DEFAULT_INITIALIZE_TIMEOUT_MS,
      closeTimeoutMs: input?.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      protocolVersion: undefined,
      serverCapabilities: undefined,
      serverInfo: undefined,
      instructions: undefined,
      failure: undefined,
      closeReason: undefined
    }
  },
  initial: "connecting",
  // The requests in flight, from the first `initialize` on until the session ends (the runtime
  // sends only when `ready`, and lets in-flight ones finish while `closing`).
  invoke: { id: "requests", src: "requests" },
  on: {
    // 2025-11-25/basic/utilities/ping.mdx:L29 — "The receiver MUST respond promptly with an empty response",
    // in every phase, before the handshake included (2025-11-25/basic/lifecycle.mdx:L157-L163).
    PING_RECEIVED: { actions: "replyPong" },
    // Transport gone, whatever the phase: an expected end is `closed`, anything else `dead`.
    TRANSPORT_CLOSED: [
      { guard: "isExpectedClose", target: ".closed", actions: "recordTransportClosed" },
      { target: ".dead", actions: "recordTransportLost" }
    ],
    // Graceful close from any live phase (2025-11-25/basic/lifecycle.mdx:L222-L244: shutdown uses the transport).
    CLOSE: { target: ".closing", actions: "recordCloseRequested" }
  },
  states: {
    connecting: {
      on: { TRANSPORT_READY: { target: "initializing" } }
    },
    initializing: {
      // 2025-11-25/basic/lifecycle.mdx:L40,L47 — initialization MUST be the first interaction; the client MUST send `initialize`.
      entry: "sendInitialize",
      after: {
        // 2025-11-25/basic/lifecycle.mdx:L246-L261 — SHOULD establish timeouts for all sent requests.
        // The `initialize` request MUST NOT be cancelled (2025-11-25/basic/utilities/cancellation.mdx:L35): just disconnect.
        initializeTimeout: { target: "failed", actions: ["recordInitializeTimeout", "disconnect"] }
      },
      on: {
        INITIALIZE_RESULT: [
          // 2025-11-25/basic/lifecycle.mdx:L147 — after successful initialization the client MUST send `initialized`.
          { guard: "isSupportedVersion", target: "operating", actions: ["recordInitializeResult", "sendInitialized"] },
          // 2025-11-25/basic/lifecycle.mdx:L165-L182 — "If the client does not support the version in the server's response, it SHOULD disconnect."
          { target: "failed", actions: ["recordUnsupportedVersion", "disconnect"] }
        ],
        INITIALIZE_ERROR: { target: "failed", actions: ["recordInitializeError", "disconnect"] },
        // Without it the session waited out `initializeTimeout` for an answer that could not come.
        INITIALIZE_LOST: { target: "failed", actions: ["recordTransportLost", "disconnect"] }
      }
    },
    operating: {
      // 2025-11-25/basic/lifecycle.mdx:L157-L159 — requests other than pings only once this tag is set.
      tags: ["ready"],
      // The keepalive is a child actor for as long as the session operates.
      invoke: {
        id: "keepalive",
        src: "keepalive",
        input: ({ context }) => context.keepalive,
        // 2025-11-25/basic/utilities/ping.mdx:L39 — an unresponsive peer MAY be considered stale and the connection terminated.
        onDone: { target: "dead", actions: ["recordPeerUnresponsive", "disconnect"] }
      },
      on: {
        PONG: { actions: "forwardToKeepalive" },
        PING_FAILED: { actions: "forwardToKeepalive" },
        PING_UNSUPPORTED: { actions: "forwardToKeepalive" },
        PEER_ACTIVITY: { actions: "forwardToKeepalive" }
      }
    },
    closing: {
      entry: "drainAndClose",
      after: { closeTimeout: { target: "closed", actions: "forceClose" } },
      on: {
        CLOSED: { target: "closed" },
        // The transport ending is what closing waits for, expected or not.
        TRANSPORT_CLOSED: { target: "closed" },
        // Idempotent: a second CLOSE must not restart the drain or its deadline.
        CLOSE: {}
      }
    },
    /** Initialization failed; `failure` says why. */
    failed: { type: "final" },
    /** The session ended as asked (CLOSE, or an expected transport close). */
    closed: { type: "final" },
    /** The peer died: unexpected transport loss or keepalive exhaustion. */
    dead: { type: "final" }
  },
  output: ({ context }) => ({
    expected: context.failure === undefined,
    reason: context.closeReason ?? context.failure?.reason ?? "closed",
    failure: context.failure
  })
})

/** The client session chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type LegacyClientSessionMachine = typeof legacyClientSessionMachine
