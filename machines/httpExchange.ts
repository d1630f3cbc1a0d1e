/**
 * One message's life on a Streamable HTTP client connection (legacy era,
 * 2025-11-25/basic/transports.mdx:L86-L190): a request from its POST to its
 * answer over as many resumptions as it takes, a notification or response
 * until the server accepted it, or the standalone GET stream for as long as
 * the connection lives. A child of {@link ./httpClientConnection.ts}.
 *
 * - `posting` (the `post` actor): POST the message. A connection that failed
 *   before reaching the server (refused, DNS, connect timeout) is retried after
 *   `postBackoff` — nothing was sent, so nothing is duplicated — and after
 *   `maxAttempts + 1` such failures in a row the server is unreachable for good
 *   (`UNREACHABLE` to the parent). A POST whose SSE stream ended before the
 *   answer is resumed: GET + `Last-Event-ID` (`resuming`), after the server's
 *   `retry:` delay (a MUST) growing by `factor` per attempt (`backoff`).
 * - Attempts are bounded **per outage**: the count restarts only when a stream
 *   delivered something (an event or a new event id), never when a stream
 *   merely connected and ended, so a server that accepts and hangs up at once
 *   cannot keep the client looping.
 * - Answered: the parent stops this child as soon as the answer is delivered
 *   (on whichever stream it came), so "answered" is not a state here.
 * - Final states say how it ended without an answer: `failed` (the request
 *   fails with `failure`; a one-way message is reported), `sent` (a one-way
 *   message was accepted), `awaitingElsewhere`'s parent stop, `absent` (the
 *   server offers no standalone stream: GET 405), `gaveUp` (the standalone
 *   stream could not be resumed), and `ended` (the child told the parent the
 *   session is lost or the server unreachable; the parent ends the connection).
 *
 * Pure chart: the I/O is the provided `post` and `resume` actors, which
 * deliver every message they read themselves and return a serializable
 * summary of how the exchange ended ({@link PostSummary}, {@link ResumeSummary}).
 */
import { and, assign, fromPromise, setup } from "xstate"
import type { RequestId } from "../src/protocol/jsonrpc.ts"
import { backoffDelayMs, defaultRestartPolicy } from "../src/protocol/restartPolicy.ts"

/** Which kind of exchange: a request (answer expected), a one-way message, the standalone stream. */
export type HttpExchangeKind = "request" | "oneWay" | "standalone"

/** The reconnection tuning shared by every exchange of a connection. */
export interface HttpReconnectPolicy {
  /** First delay when the server gave no `retry:`. */
  readonly initialDelayMs: number
  /** Cap of the exponential growth (never below the server's `retry:`). */
  readonly maxDelayMs: number
  /** Growth per failed attempt. */
  readonly factor: number
  /** Attempts per outage (reconnections of a stream, re-sends of an unsent message). */
  readonly maxAttempts: number
}

/** 250 ms, doubling, capped at 5 s, 5 attempts per outage. */
export const DEFAULT_HTTP_RECONNECT: HttpReconnectPolicy = { initialDelayMs: 250, maxDelayMs: 5_000, factor: 2, maxAttempts: 5 }

/**
 * The delay before reconnection attempt `attempt` (1-based): the server's
 * `retry:` (else `initialDelayMs`) the first time, then growing by `factor`,
 * capped at `maxDelayMs` — but never below the server's `retry:`. The
 * project's one backoff formula ({@link backoffDelayMs}) with the `retry:` as base.
 */
export const reconnectDelay = (attempt: number, retryMs: number | undefined, options: HttpReconnectPolicy): number => {
  const base = retryMs ?? options.initialDelayMs
  return backoffDelayMs({ ...defaultRestartPolicy, baseDelayMs: base, factor: options.factor, maxDelayMs: Math.max(options.maxDelayMs, base) }, attempt)
}

/** Why a request failed without an answer, as data (the transport turns it into `ConnectionLost` / `HttpError`). */
export interface HttpExchangeFailure {
  readonly kind: "connectionLost" | "http"
  readonly message: string
  readonly status?: number
  readonly body?: string
}

/** How a SSE stream (a POST's or a GET's) ended after being read to its end. */
interface StreamEnded {
  readonly _tag: "StreamEnded"
  /** The stream delivered something: an event or a new event id. */
  readonly progressed: boolean
  /** The last event id seen ("" = none yet). */
  readonly cursor: string
  /** The server's last `retry:`. */
  readonly retryMs: number | undefined
  /** "error" when the connection broke, "end" when the server ended it. */
  readonly endedBy: "error" | "end"
}

/** A connection that failed before reaching the server (safe to retry). */
interface Unreached {
  readonly _tag: "Unreached"
  readonly message: string
}
/** A connection lost after reaching the server (the server may have acted). */
interface Lost {
  readonly _tag: "Lost"
  readonly message: string
}
/** An error status with no JSON-RPC body (one with a body was delivered as the answer). */
interface Rejected {
  readonly _tag: "Rejected"
  readonly status: number
  /** A description for diagnostics and errors. */
  readonly message: string
  readonly body: string
  /** The request carried a session id (so a 404 means the session is lost). */
  readonly hadSession: boolean
}

/**
 * What the `post` actor reports. Messages read on the way were delivered already;
 * `Answered` covers a JSON-RPC error body delivered as the answer.
 */
export type PostSummary =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Answered" }
  | { readonly _tag: "Json"; readonly status: number }
  | { readonly _tag: "TooLarge"; readonly bytes: number }
  /** The server rejected `initialize`, or sent an invalid session id: the connection failed. */
  | { readonly _tag: "InitializeFailed"; readonly reason: string }
  | StreamEnded
  | Unreached
  | Lost
  | Rejected

/** What the `resume` actor (GET + `Last-Event-ID`) reports. */
export type ResumeSummary = StreamEnded | Unreached | Lost | Rejected

/** What an exchange is given: its kind, the message (or nothing, for the standalone stream), the policy. */
export interface HttpExchangeInput {
  readonly kind: HttpExchangeKind
  /** The request's id (requests only). */
  readonly id?: RequestId
  /** The request's method or the message's label ("response", "notifications/initialized"…). */
  readonly method: string
  /** The JSON text to POST ("" for the standalone stream). */
  readonly text: string
  readonly reconnect: HttpReconnectPolicy
}

/** What an exchange remembers: attempts, the resumption cursor and `retry:`, how it failed or ended. */
export interface HttpExchangeContext {
  readonly kind: HttpExchangeKind
  readonly id: RequestId | undefined
  readonly method: string
  readonly text: string
  readonly reconnect: HttpReconnectPolicy
  /** POSTs that failed before reaching the server, in a row. */
  readonly postAttempts: number
  /** Stream reconnections in this outage. */
  readonly streamAttempts: number
  /** Where to resume (`Last-Event-ID`). */
  readonly cursor: string
  readonly retryMs: number | undefined
  /** The last failed attempt, and whether it failed before reaching the server. */
  readonly lastFailure: string | undefined
  readonly lastUnreached: boolean
  /** How it failed (final `failed`). */
  readonly failure: HttpExchangeFailure | undefined
  /** Why the connection must end (final `ended`): told to the parent in the output. */
  readonly ending: HttpConnectionEnding | undefined
  readonly reason: string | undefined
}

/**
 * The events of the exchange chart: the I/O actors' done/error events, and
 * `STOP` from the parent (cancelled, or the answer arrived elsewhere) which
 * the parent implements with `stopChild`.
 */
export type HttpExchangeEvent =
  | { readonly type: "xstate.done.actor.post"; readonly output: PostSummary }
  | { readonly type: "xstate.done.actor.resume"; readonly output: ResumeSummary }
  | { readonly type: "xstate.error.actor.post"; readonly error: unknown }
  | { readonly type: "xstate.error.actor.resume"; readonly error: unknown }

/** What the I/O actors get: the message (for `post`) or the cursor (for `resume`). */
export interface HttpExchangeIo {
  readonly kind: HttpExchangeKind
  readonly id: RequestId | undefined
  readonly method: string
  readonly text: string
  readonly cursor: string
}

/** Why an exchange says the whole connection must end. */
export type HttpConnectionEnding = "sessionLost" | "unreachable" | "failed"

/** How the exchange ended, in its done event (the parent ends the connection on `ending`). */
export interface HttpExchangeOutput {
  readonly failed: boolean
  readonly ending: HttpConnectionEnding | undefined
  readonly reason: string | undefined
}

const what = (context: HttpExchangeContext): string =>
  context.kind === "standalone" ? "the standalone stream" : `the response stream of ${context.method}`


type Summary = PostSummary | ResumeSummary

/** The summary in an I/O actor's done event (undefined for any other event). */
const summaryOf = (event: HttpExchangeEvent): Summary | undefined =>
  event.type === "xstate.done.actor.post" || event.type === "xstate.done.actor.resume" ? event.output : undefined

const lostMessage = (context: HttpExchangeContext, s: Summary | undefined): string => {
  const detail = s !== undefined && "message" in s ? s.message : "?"
  return context.kind === "request" ? `${context.method}: connection lost before the answer (${detail})` : `a message could not be delivered: ${detail}`
}

const giveUpMessage = (context: HttpExchangeContext): string =>
  `${what(context)} could not be resumed after ${context.reconnect.maxAttempts} attempts${context.lastFailure === undefined ? "" : ` (last: ${context.lastFailure})`}`

/**
 * One message or stream on a Streamable HTTP client connection: post ⇄ back off
 * (unreached), then resume ⇄ back off until answered (the parent stops it), or
 * sent, failed, absent, given up, or ended (session lost / unreachable).
 */
export const httpExchangeMachine = setup({
  types: {
    context: {} as HttpExchangeContext,
    events: {} as HttpExchangeEvent,
    input: {} as HttpExchangeInput,
    output: {} as HttpExchangeOutput
  },
  actors: {
    /** POST the message; deliver what comes back; summarize (provided by the transport). */
    post: fromPromise<PostSummary, HttpExchangeIo>(() => Promise.resolve({ _tag: "Accepted" })),
    /** GET + `Last-Event-ID`; deliver what comes; summarize (provided by the transport). */
    resume: fromPromise<ResumeSummary, HttpExchangeIo>(() => Promise.resolve({ _tag: "Rejected", status: 405, message: "", body: "", hadSession: false }))
  },
  actions: {
    /**
     * Tell the parent (the connection) how this exchange ended, with the stable type
     * `EXCHANGE_ENDED` rather than by its done event: xstate memoizes transition candidates
     * per state node and event type forever, so `xstate.done.actor.<growing id>` would
     * grow the parent's chart cache by one entry per exchange (the runtime drops done
     * events no transition of the parent names).
     */
    /**
     * Effect: tell the parent (the connection) how this exchange ended, as {@link exchangeEnded}
     * (the transport provides it as `sendParent`). A stable event type rather than the done
     * event: xstate memoizes transition candidates per state node and event type for as long
     * as the chart lives, so `xstate.done.actor.<growing id>` would grow the connection chart's
     * cache by one entry per exchange (the runtime drops done events no transition names).
     */
    reportEnd: () => {},
    /** Effect: the request failed without an answer (`context.failure`); a one-way message's failure is a diagnostic. */
    reportFailure: () => {},
    /** Effect: a non-fatal note (the standalone stream could not be resumed). */
    diagnostic: (_, _params: { readonly text: string }) => {},
    countUnreached: assign({
      postAttempts: ({ context }) => context.postAttempts + 1,
      lastFailure: ({ context, event }) => {
        const s = summaryOf(event)
        return s !== undefined && "message" in s ? s.message : context.lastFailure
      }
    }),
    /** A stream ended (or a reconnection failed): remember where to resume and why, and count the attempt. */
    noteStreamEnd: assign(({ context, event }) => {
      const s = summaryOf(event)
      const ended = s?._tag === "StreamEnded" ? s : undefined
      return {
        cursor: ended !== undefined && ended.cursor !== "" ? ended.cursor : context.cursor,
        retryMs: ended?.retryMs ?? context.retryMs,
        // Progress (an event or a new event id) gives this outage a fresh budget.
        streamAttempts: (ended?.progressed === true ? 0 : context.streamAttempts) + 1,
        lastFailure: s === undefined ? "internal error" : s._tag === "StreamEnded" ? (s.endedBy === "error" ? "the connection broke" : "the server ended the stream") : "message" in s ? s.message : s._tag,
        lastUnreached: s?._tag === "Unreached"
      }
    }),
    failWith: assign({ failure: (_, params: HttpExchangeFailure) => params }),
    endWith: assign((_, params: { readonly ending: HttpConnectionEnding; readonly reason: string }) => ({ ending: params.ending, reason: params.reason }))
  },
  guards: {
    isRequest: ({ context }) => context.kind === "request",
    isStandalone: ({ context }) => context.kind === "standalone",
    /** The I/O actor's summary has this tag. */
    outcome: ({ event }, params: { readonly tag: Summary["_tag"] }) => summaryOf(event)?._tag === params.tag,
    /** A request whose I/O summary has this tag. */
    requestOutcome: ({ context, event }, params: { readonly tag: Summary["_tag"] }) => context.kind === "request" && summaryOf(event)?._tag === params.tag,
    /** A 404 to a message that carried the session id: the server forgot the session (L192-L220). */
    sessionGone: ({ event }) => {
      const s = summaryOf(event)
      return s?._tag === "Rejected" && s.status === 404 && s.hadSession
    },
    /** GET answered 405: the server does not offer (or resume) streams. */
    notOffered: ({ event }) => {
      const s = summaryOf(event)
      return s?._tag === "Rejected" && s.status === 405
    },
    /** This unreached POST may be re-sent (at most `maxAttempts` re-sends in a row). */
    canRepost: ({ context, event }) => summaryOf(event)?._tag === "Unreached" && context.postAttempts < context.reconnect.maxAttempts,
    canRepostInitialized: ({ context, event }) =>
      summaryOf(event)?._tag === "Lost" && context.method === "notifications/initialized" && context.postAttempts < context.reconnect.maxAttempts,
    initializedLost: ({ context, event }) => summaryOf(event)?._tag === "Lost" && context.method === "notifications/initialized",
    /** A request's POST stream ended before the answer with an event id to resume from. */
    resumable: ({ context, event }) => {
      const s = summaryOf(event)
      return context.kind === "request" && s?._tag === "StreamEnded" && s.cursor !== ""
    },
    /** This outage's reconnections are within budget. */
    canReconnect: ({ context }) => context.streamAttempts <= context.reconnect.maxAttempts,
    /** The attempts ran out and the last one never reached the server. */
    lastUnreached: ({ context }) => context.lastUnreached
  },
  delays: {
    postBackoff: ({ context }) => reconnectDelay(context.postAttempts, undefined, context.reconnect),
    reconnectBackoff: ({ context }) => reconnectDelay(context.streamAttempts, context.retryMs, context.reconnect)
  }
}).createMachine({
  id: "httpExchange",
  context: ({ input }) => ({
    kind: input.kind,
    id: input.id,
    method: input.method,
    text: input.text,
    reconnect: input.reconnect,
    postAttempts: 0,
    streamAttempts: 0,
    cursor: "",
    retryMs: undefined,
    lastFailure: undefined,
    lastUnreached: false,
    failure: undefined,
    ending: undefined,
    reason: undefined
  }),
  initial: "starting",
  output: ({ context }) => ({ failed: context.failure !== undefined, ending: context.ending, reason: context.reason }),
  states: {
    starting: {
      always: [{ guard: "isStandalone", target: "resuming" }, { target: "posting" }]
    },
    posting: {
      invoke: {
        src: "post",
        id: "post",
        input: ({ context }) => ({ kind: context.kind, id: context.id, method: context.method, text: context.text, cursor: "" }),
        onDone: [
          { guard: "canRepost", target: "postBackoff", actions: "countUnreached" },
          { guard: { type: "outcome", params: { tag: "Unreached" } }, target: "ended", actions: ["countUnreached", { type: "endWith", params: ({ context }) => ({ ending: "unreachable", reason: `server unreachable (${context.postAttempts} attempts): ${context.lastFailure ?? ""}` }) }] },
          { guard: "sessionGone", target: "ended", actions: { type: "endWith", params: ({ context }) => ({ ending: "sessionLost", reason: `${context.method} answered 404` }) } },
          { guard: { type: "outcome", params: { tag: "InitializeFailed" } }, target: "ended", actions: { type: "endWith", params: ({ event }) => ({ ending: "failed", reason: event.output._tag === "InitializeFailed" ? event.output.reason : "initialize failed" }) } },
          { guard: { type: "outcome", params: { tag: "Rejected" } }, target: "failed", actions: { type: "failWith", params: ({ event }) => rejectedFailure(event.output) } },
          // `notifications/initialized` lost on the way: sent again (a duplicate is harmless, a missing one leaves the
          // session uninitialized for good); still lost after maxAttempts, the connection has failed.
          { guard: "canRepostInitialized", target: "postBackoff", actions: "countUnreached" },
          { guard: "initializedLost", target: "ended", actions: { type: "endWith", params: ({ context, event }) => ({ ending: "failed", reason: `notifications/initialized was not delivered (${context.postAttempts + 1} attempts): ${"message" in event.output ? event.output.message : "connection lost"}` }) } },
          { guard: { type: "outcome", params: { tag: "Lost" } }, target: "failed", actions: { type: "failWith", params: ({ context, event }) => ({ kind: "connectionLost", message: lostMessage(context, event.output) }) } },
          // Only a request waits for more; a one-way message is done once the server took it.
          { guard: "resumable", target: "waitingToResume", actions: "noteStreamEnd" },
          { guard: { type: "requestOutcome", params: { tag: "StreamEnded" } }, target: "failed", actions: { type: "failWith", params: ({ context }) => ({ kind: "connectionLost", message: `${context.method}: the response stream ended before the answer and the server gave no event id to resume it` }) } },
          { guard: { type: "requestOutcome", params: { tag: "Json" } }, target: "failed", actions: { type: "failWith", params: ({ context, event }) => ({ kind: "http", status: event.output._tag === "Json" ? event.output.status : 200, message: `${context.method}: the JSON response did not contain its answer` }) } },
          { guard: { type: "requestOutcome", params: { tag: "TooLarge" } }, target: "failed", actions: { type: "failWith", params: ({ context, event }) => ({ kind: "connectionLost", message: `${context.method}: the response (${event.output._tag === "TooLarge" ? event.output.bytes : "?"} bytes) exceeds maxMessageBytes` }) } },
          { guard: { type: "requestOutcome", params: { tag: "Accepted" } }, target: "awaitingElsewhere" },
          { guard: { type: "requestOutcome", params: { tag: "Answered" } }, target: "answered" },
          { target: "sent" }
        ],
        onError: { target: "failed", actions: { type: "failWith", params: ({ context, event }) => ({ kind: "connectionLost", message: `${context.method}: internal error (${String(event.error)})` }) } }
      }
    },
    /** The POST failed before reaching the server: wait, then send it again. */
    postBackoff: {
      after: { postBackoff: { target: "posting" } }
    },
    /** 202 to a request: the answer comes on another stream; the parent stops this child then. */
    awaitingElsewhere: {},
    /** A stream of this exchange ended: wait (the server's `retry:`, growing), then GET + `Last-Event-ID`. */
    waitingToResume: {
      after: { reconnectBackoff: { target: "resuming" } }
    },
    resuming: {
      invoke: {
        src: "resume",
        id: "resume",
        input: ({ context }) => ({ kind: context.kind, id: context.id, method: context.method, text: "", cursor: context.cursor }),
        onDone: [
          { guard: "sessionGone", target: "ended", actions: { type: "endWith", params: ({ context }) => ({ ending: "sessionLost", reason: `GET (${what(context)}) answered 404` }) } },
          { guard: and(["notOffered", "isStandalone"]), target: "absent" },
          {
            guard: "notOffered",
            target: "failed",
            actions: { type: "failWith", params: ({ context }) => ({ kind: "connectionLost", message: `${context.method}: the response stream ended before the answer and the server does not resume streams (GET 405)` }) }
          },
          { target: "backoff", actions: "noteStreamEnd" }
        ],
        onError: { target: "backoff", actions: "noteStreamEnd" }
      }
    },
    /** Between stream attempts: give up when the outage's budget is spent. */
    backoff: {
      always: [
        { guard: "canReconnect", target: "waitingToResume" },
        { guard: "lastUnreached", target: "ended", actions: { type: "endWith", params: ({ context }) => ({ ending: "unreachable", reason: `server unreachable (${context.streamAttempts} attempts): ${context.lastFailure ?? ""}` }) } },
        { guard: "isStandalone", target: "gaveUp", actions: { type: "diagnostic", params: ({ context }) => ({ text: giveUpMessage(context) }) } },
        { target: "failed", actions: { type: "failWith", params: ({ context }) => ({ kind: "connectionLost", message: `${context.method}: ${giveUpMessage(context)}` }) } }
      ]
    },
    /** GET 405 to the standalone stream: this server offers none (fine). */
    absent: { type: "final", entry: "reportEnd" },
    /** A JSON-RPC error body answered the request (the parent normally stops this child first). */
    answered: { type: "final", entry: "reportEnd" },
    sent: { type: "final", entry: "reportEnd" },
    failed: { type: "final", entry: ["reportFailure", "reportEnd"] },
    gaveUp: { type: "final", entry: "reportEnd" },
    /** The connection must end (session lost, unreachable, initialize failed): the output tells the parent. */
    ended: { type: "final", entry: "reportEnd" }
  }
})

const rejectedFailure = (output: unknown): HttpExchangeFailure => {
  const r = output as Rejected
  return { kind: "http", status: r.status, message: r.message, ...(r.body !== "" ? { body: r.body.slice(0, 512) } : {}) }
}

/** How an exchange tells its connection that it ended (`key` is its child id): see `reportEnd`. */
export const exchangeEnded = (key: string, context: HttpExchangeContext) =>
  ({ type: "EXCHANGE_ENDED", key, output: { failed: context.failure !== undefined, ending: context.ending, reason: context.reason } satisfies HttpExchangeOutput }) as const

/** The exchange chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type HttpExchangeMachine = typeof httpExchangeMachine
