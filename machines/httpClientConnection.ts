/**
 * A Streamable HTTP client connection (legacy era, 2025-03-26 … 2025-11-25;
 * spec-digest §3.A, 2025-11-25/basic/transports.mdx:L86-L280), from the first
 * POST to its end. `HttpClientTransport` runs it; every message and stream is
 * a child ({@link httpExchangeMachine}) spawned with `spawnChild`.
 *
 * - **Init gate** (`live`: `ungated` → `gated` → `open`). Until
 *   `notifications/initialized` is sent, messages go out at once (only
 *   `initialize` is expected then). Requests sent after it wait (`queue`) for
 *   the server to accept it: POSTs are concurrent, and without the gate a
 *   server could see `tools/list` before `initialized` and refuse it
 *   (lifecycle.mdx:L157-L159). Once it is accepted the standalone GET stream
 *   starts (L133-L154), unless the options turn it off.
 * - **Session id** (`SESSION_ID`, from the `initialize` response headers,
 *   before its result is delivered): visible ASCII only (L192-L220), else the
 *   connection `failed`. It is sent on every later request with the
 *   negotiated `MCP-Protocol-Version` (`ANSWERED` to `initialize` carries it).
 * - **Answers** (`ANSWERED`): whichever stream delivered it, the request's own
 *   exchange is stopped (its stream and retries end). `CANCEL` (the session
 *   sent `notifications/cancelled`) stops it too.
 * - **Endings**: `sessionLost` (a 404 to a message carrying the session id:
 *   every request in flight fails with `SessionLost`; re-initializing is the
 *   owner's job, `HttpClientSession`), `unreachable` (an exchange ran out of
 *   attempts without reaching the server), `failed` (initialize rejected or an
 *   invalid session id), `closed` (the caller: abort every exchange, DELETE the
 *   session if there is one and the options allow, release the pool).
 *
 * Pure chart: the exchanges' I/O, the DELETE and the release are provided actors;
 * `failInFlight` and `reportEnded` are provided actions.
 */
import { type ActorRefFrom, and, assign, enqueueActions, fromPromise, setup, stopChild } from "xstate"
import type { RequestId } from "../src/protocol/jsonrpc.ts"
import { DEFAULT_HTTP_RECONNECT, httpExchangeMachine, type HttpExchangeOutput, type HttpReconnectPolicy } from "./httpExchange.ts"

/** The options of a connection chart (from `HttpClientTransportOptions`). */
export interface HttpClientConnectionInput {
  /** Open the standalone GET stream once initialized. Default true. */
  readonly standaloneStream?: boolean
  /** DELETE the session on close. Default true. */
  readonly deleteOnClose?: boolean
  readonly reconnect?: Partial<HttpReconnectPolicy>
}

/** A message waiting for the init gate. */
export interface QueuedMessage {
  readonly key: string
  readonly id?: RequestId
  readonly kind: "request" | "oneWay"
  readonly method: string
  readonly text: string
}

/** What the connection chart remembers: options, the session id and version, the gate's queue, why it ended. */
export interface HttpClientConnectionContext {
  readonly standaloneStream: boolean
  readonly deleteOnClose: boolean
  readonly reconnect: HttpReconnectPolicy
  /** The `Mcp-Session-Id` the server assigned (none before initialize, or for a server without sessions). */
  readonly sessionId: string | undefined
  /** The negotiated version, sent as `MCP-Protocol-Version`. */
  readonly protocolVersion: string | undefined
  /** The id of the `initialize` request. */
  readonly initializeId: RequestId | undefined
  /** Messages sent while `notifications/initialized` was in flight. */
  readonly queue: ReadonlyArray<QueuedMessage>
  /** Numbers the one-way exchanges. */
  readonly seq: number
  /** Why the connection ended. */
  readonly reason: string | undefined
}

/**
 * - `REQUEST` / `ONE_WAY` / `INITIALIZED`: the session sends a message (`text` is its JSON);
 * - `CANCEL`: the session cancelled request `id`;
 * - `SESSION_ID`: the `initialize` response named a session id;
 * - `ANSWERED`: a response to request `id` was delivered (`protocolVersion` from an initialize result);
 * - `EXCHANGE_ENDED`: exchange `key` ended (sent by the exchange, a stable type: see
 *   {@link httpExchangeMachine}'s `reportEnd`); its output may end the connection;
 * - `CLOSE`: the caller closes the transport.
 */
export type HttpClientConnectionEvent =
  | { readonly type: "REQUEST"; readonly id: RequestId; readonly method: string; readonly text: string }
  | { readonly type: "ONE_WAY"; readonly label: string; readonly text: string }
  | { readonly type: "INITIALIZED"; readonly text: string }
  | { readonly type: "CANCEL"; readonly id: RequestId }
  | { readonly type: "SESSION_ID"; readonly sessionId: string }
  | { readonly type: "ANSWERED"; readonly id: RequestId; readonly protocolVersion?: string }
  | { readonly type: "CLOSE" }
  /** The standalone GET stream is open (its response headers arrived): what waited may go. */
  | { readonly type: "STANDALONE_READY" }
  | { readonly type: "EXCHANGE_ENDED"; readonly key: string; readonly output: HttpExchangeOutput }

/** The child id of request `id` (`JSON.stringify` keeps `1` and `"1"` apart). */
export const exchangeKey = (id: RequestId): string => `request:${JSON.stringify(id)}`
/** The child id of the `notifications/initialized` exchange (its end opens the gate). */
export const INITIALIZED_KEY = "initialized"
/** The child id of the standalone GET stream. */
export const STANDALONE_KEY = "standalone"

/** Session ids MUST be visible ASCII (0x21–0x7E) (2025-11-25/basic/transports.mdx:L192-L220). */
export const isValidSessionId = (id: string): boolean => /^[\x21-\x7e]+$/.test(id)

const doneOutput = (event: HttpClientConnectionEvent): HttpExchangeOutput | undefined =>
  event.type === "EXCHANGE_ENDED" ? event.output : undefined

/**
 * A Streamable HTTP client connection: ungated → gated (initialized in flight) → open,
 * every message an exchange child; ends sessionLost, unreachable, failed or closed.
 */
export const httpClientConnectionMachine = setup({
  types: {
    context: {} as HttpClientConnectionContext,
    events: {} as HttpClientConnectionEvent,
    input: {} as HttpClientConnectionInput
  },
  actors: {
    exchange: httpExchangeMachine,
    /** DELETE the session (errors and 405 are diagnostics). */
    deleteSession: fromPromise<void, { readonly sessionId: string }>(() => Promise.resolve()),
    /** Destroy the pool and wait for every socket to close. */
    release: fromPromise<void, void>(() => Promise.resolve())
  },
  actions: {
    spawnRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "REQUEST") return
      enqueue.spawnChild("exchange", { id: exchangeKey(event.id), input: { kind: "request", id: event.id, method: event.method, text: event.text, reconnect: context.reconnect } })
    }),
    // (Assignments are separate actions, not `enqueue.assign`: these actions may run while the
    // transport's owner is inside another actor's action, where creating an assign warns.)
    recordInitializeId: assign({
      initializeId: ({ context, event }) => (event.type === "REQUEST" && event.method === "initialize" ? event.id : context.initializeId)
    }),
    spawnOneWay: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "ONE_WAY" && event.type !== "INITIALIZED") return
      const label = event.type === "ONE_WAY" ? event.label : "notifications/initialized"
      enqueue.spawnChild("exchange", { id: `oneWay:${context.seq}`, input: { kind: "oneWay", method: label, text: event.text, reconnect: context.reconnect } })
    }),
    countOneWay: assign({ seq: ({ context }) => context.seq + 1 }),
    spawnInitialized: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "INITIALIZED") return
      enqueue.spawnChild("exchange", { id: INITIALIZED_KEY, input: { kind: "oneWay", method: "notifications/initialized", text: event.text, reconnect: context.reconnect } })
    }),
    enqueue: assign({
      queue: ({ context, event }) => {
        if (event.type === "REQUEST") return [...context.queue, { key: exchangeKey(event.id), id: event.id, kind: "request" as const, method: event.method, text: event.text }]
        if (event.type === "ONE_WAY" || event.type === "INITIALIZED") {
          const method = event.type === "ONE_WAY" ? event.label : "notifications/initialized"
          return [...context.queue, { key: `oneWay:q${context.queue.length}`, kind: "oneWay" as const, method, text: event.text }]
        }
        return context.queue
      }
    }),
    /** The gate opened: send what waited, in order. */
    flushQueue: enqueueActions(({ context, enqueue }) => {
      for (const m of context.queue) enqueue.spawnChild("exchange", { id: m.key, input: { kind: m.kind, ...(m.id === undefined ? {} : { id: m.id }), method: m.method, text: m.text, reconnect: context.reconnect } })
    }),
    clearQueue: assign({ queue: [] }),
    startStandalone: enqueueActions(({ context, enqueue }) => {
      enqueue.spawnChild("exchange", { id: STANDALONE_KEY, input: { kind: "standalone", method: "GET", text: "", reconnect: context.reconnect } })
    }),
    /** Stop the exchange of an answered or cancelled request. */
    stopRequest: stopChild(({ event }) => (event.type === "ANSWERED" || event.type === "CANCEL" ? exchangeKey(event.id) : "")),
    /** A finished exchange leaves the children. */
    forgetExchange: stopChild(({ event }) => (event.type === "EXCHANGE_ENDED" ? event.key : "")),
    /** Effect: abort every exchange's I/O at once (their actors stop with the connection's final state). */
    abortExchanges: () => {},
    recordSessionId: assign({ sessionId: ({ event }) => (event.type === "SESSION_ID" ? event.sessionId : undefined) }),
    recordProtocolVersion: assign({
      protocolVersion: ({ context, event }) =>
        event.type === "ANSWERED" && event.id === context.initializeId && event.protocolVersion !== undefined ? event.protocolVersion : context.protocolVersion
    }),
    recordReason: assign({
      reason: ({ context, event }) => {
        const out = doneOutput(event)
        if (out?.ending === "sessionLost") return `session lost: ${out.reason ?? "404"}`
        if (out?.ending !== undefined) return out.reason ?? out.ending
        if (event.type === "SESSION_ID") return `initialize: the server sent an invalid Mcp-Session-Id (${JSON.stringify(event.sessionId.slice(0, 64))})`
        return context.reason
      }
    }),
    /** Effect: every request still in flight fails with `SessionLost`. */
    failInFlight: () => {},
    /** Effect: the caller closed the transport (`onClose({ expected: true })`). */
    reportClosed: () => {},
    /** Effect: the transport ended on its own (`onClose({ expected: false, reason })`). */
    reportEnded: () => {}
  },
  delays: {
    /** How long queued messages wait for the standalone stream to open before going anyway. */
    standaloneReadyTimeout: 2_000
  },
  guards: {
    /** An exchange's end says the connection ends this way. */
    exchangeLostSession: ({ event }) => doneOutput(event)?.ending === "sessionLost",
    exchangeUnreachable: ({ event }) => doneOutput(event)?.ending === "unreachable",
    exchangeFailedConnection: ({ event }) => doneOutput(event)?.ending === "failed",
    /** The exchange that ended is `notifications/initialized`'s / the standalone stream's (others go to `live`). */
    endOfInitialized: ({ event }) => event.type === "EXCHANGE_ENDED" && event.key === INITIALIZED_KEY,
    endOfStandalone: ({ event }) => event.type === "EXCHANGE_ENDED" && event.key === STANDALONE_KEY,
    validSessionId: ({ event }) => event.type === "SESSION_ID" && isValidSessionId(event.sessionId),
    /** `initialized` was accepted (not rejected, not lost): the standalone stream may start. */
    initializedAccepted: ({ context, event }) => {
      const out = doneOutput(event)
      return context.standaloneStream && out !== undefined && !out.failed && out.ending === undefined
    },
    mayDelete: ({ context }) => context.deleteOnClose && context.sessionId !== undefined
  }
}).createMachine({
  id: "httpClientConnection",
  context: ({ input }) => ({
    standaloneStream: input.standaloneStream ?? true,
    deleteOnClose: input.deleteOnClose ?? true,
    reconnect: { ...DEFAULT_HTTP_RECONNECT, ...input.reconnect },
    sessionId: undefined,
    protocolVersion: undefined,
    initializeId: undefined,
    queue: [],
    seq: 0,
    reason: undefined
  }),
  initial: "live",
  states: {
    live: {
      initial: "ungated",
      on: {
        CANCEL: { actions: "stopRequest" },
        ANSWERED: { actions: ["recordProtocolVersion", "stopRequest"] },
        SESSION_ID: [
          { guard: "validSessionId", actions: "recordSessionId" },
          { target: "failed", actions: "recordReason" }
        ],
        // An exchange that ends the connection ends it the same way (also in `gated`).
        EXCHANGE_ENDED: [
          { guard: "exchangeLostSession", target: "#httpClientConnection.sessionLost", actions: "recordReason" },
          { guard: "exchangeUnreachable", target: "#httpClientConnection.unreachable", actions: "recordReason" },
          { guard: "exchangeFailedConnection", target: "#httpClientConnection.failed", actions: "recordReason" },
          { actions: "forgetExchange" }
        ],
        CLOSE: { target: "closing" }
      },
      states: {
        /** Before `notifications/initialized`: everything goes out at once. */
        ungated: {
          on: {
            REQUEST: { actions: ["spawnRequest", "recordInitializeId"] },
            ONE_WAY: { actions: ["spawnOneWay", "countOneWay"] },
            INITIALIZED: { target: "gated", actions: "spawnInitialized" }
          }
        },
        /** `notifications/initialized` in flight: the rest waits. */
        gated: {
          on: {
            REQUEST: { actions: "enqueue" },
            ONE_WAY: { actions: "enqueue" },
            INITIALIZED: { actions: "enqueue" },
            EXCHANGE_ENDED: [
              { guard: and(["endOfInitialized", "exchangeLostSession"]), target: "#httpClientConnection.sessionLost", actions: "recordReason" },
              { guard: and(["endOfInitialized", "exchangeUnreachable"]), target: "#httpClientConnection.unreachable", actions: "recordReason" },
              { guard: and(["endOfInitialized", "exchangeFailedConnection"]), target: "#httpClientConnection.failed", actions: "recordReason" },
              // The standalone stream first: a server may send what relates to no stream (or an
              // SDK server, a request's elicitation) on it as soon as a queued call arrives.
              { guard: and(["endOfInitialized", "initializedAccepted"]), target: "opening", actions: ["forgetExchange", "startStandalone"] },
              { guard: "endOfInitialized", target: "open", actions: ["forgetExchange", "flushQueue", "clearQueue"] }
            ]
          }
        },
        /**
         * The standalone stream is being opened: the rest waits until it is (or it ended, or
         * `standaloneReadyTimeout`), since a server may send what relates to no request on it
         * only once it exists (the conformance server drops an elicitation otherwise).
         */
        opening: {
          after: { standaloneReadyTimeout: { target: "open", actions: ["flushQueue", "clearQueue"] } },
          on: {
            REQUEST: { actions: "enqueue" },
            ONE_WAY: { actions: "enqueue" },
            INITIALIZED: { actions: "enqueue" },
            STANDALONE_READY: { target: "open", actions: ["flushQueue", "clearQueue"] },
            EXCHANGE_ENDED: [
              { guard: and(["endOfStandalone", "exchangeLostSession"]), target: "#httpClientConnection.sessionLost", actions: "recordReason" },
              { guard: and(["endOfStandalone", "exchangeUnreachable"]), target: "#httpClientConnection.unreachable", actions: "recordReason" },
              { guard: and(["endOfStandalone", "exchangeFailedConnection"]), target: "#httpClientConnection.failed", actions: "recordReason" },
              { guard: "endOfStandalone", target: "open", actions: ["forgetExchange", "flushQueue", "clearQueue"] }
            ]
          }
        },
        open: {
          on: {
            REQUEST: { actions: ["spawnRequest", "recordInitializeId"] },
            ONE_WAY: { actions: ["spawnOneWay", "countOneWay"] },
            INITIALIZED: { actions: ["spawnOneWay", "countOneWay"] }
          }
        }
      }
    },
    closing: {
      entry: "abortExchanges",
      initial: "deciding",
      states: {
        deciding: {
          always: [{ guard: "mayDelete", target: "deleting" }, { target: "releasing" }]
        },
        deleting: {
          invoke: {
            src: "deleteSession",
            id: "deleteSession",
            input: ({ context }) => ({ sessionId: context.sessionId ?? "" }),
            onDone: "releasing",
            onError: "releasing"
          }
        },
        releasing: {
          invoke: { src: "release", id: "release", onDone: "#httpClientConnection.closed", onError: "#httpClientConnection.closed" }
        }
      }
    },
    closed: { type: "final", entry: "reportClosed" },
    sessionLost: { type: "final", entry: ["failInFlight", "reportEnded"] },
    unreachable: { type: "final", entry: "reportEnded" },
    failed: { type: "final", entry: "reportEnded" }
  }
})

/** The connection chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type HttpClientConnectionMachine = typeof httpClientConnectionMachine
/** A running exchange (for the transport's `failInFlight`). */
export type HttpExchangeActor = ActorRefFrom<typeof httpExchangeMachine>
