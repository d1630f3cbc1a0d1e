/**
 * A client's `subscriptions/listen` stream (2026-07-28), from request to end,
 * including reconnection: the modern era's one long-lived thing besides the
 * transport (spec-digest §2 "Subscriptions").
 *
 * - `subscribing`: the listen request is out (`sendListen` sends it with a new
 *   id each time). The server "MUST send `notifications/subscriptions/acknowledged`
 *   as the first message", so no acknowledgement within `acknowledgeTimeout`
 *   counts as a lost stream (and the request is cancelled).
 * - `listening`: acknowledged; notifications flow (the runtime routes them by
 *   `_meta` subscription id, they are not chart events).
 * - `waiting`: the stream was lost (a dropped connection, a stream that ended
 *   without a result, the server's `notifications/cancelled` for it). "An abrupt
 *   drop MAY trigger a client reconnect": we do, after an exponential backoff,
 *   at most `maxAttempts` times in a row; an acknowledgement resets the count,
 *   so each outage has its own budget.
 * - Final: `closed` (the caller), `completed` (the server answered the listen:
 *   its graceful close), `failed` (an error response, e.g. -32601 from a server
 *   without subscriptions, or the attempts ran out), `ended` (the client's
 *   transport is gone).
 *
 * Pure chart: the runtime provides `sendListen`/`cancelListen` and feeds back
 * what the wire says as events. The reconnection delay is the one backoff with
 * the one jitter (`src/protocol/backoff.ts`), its random draw a pure function of
 * the stream's seed (in context) and the attempt, so the delay reads only context
 * and the chart stays finite for `xstate/graph`.
 */
import { assign, setup } from "xstate"
import { backoffDelay, jittered, nextRandom } from "../src/protocol/backoff.ts"

/** Reconnections in a row before a subscription fails, when the input does not say. */
export const DEFAULT_LISTEN_MAX_ATTEMPTS = 5
/** First reconnection delay (doubled per attempt), when the input does not say. */
export const DEFAULT_LISTEN_BASE_DELAY_MS = 500
/** Cap of the reconnection delay, when the input does not say. */
export const DEFAULT_LISTEN_MAX_DELAY_MS = 30_000
/** How long the server may take to acknowledge a listen, when the input does not say. */
export const DEFAULT_LISTEN_ACKNOWLEDGE_TIMEOUT_MS = 30_000
/**
 * The relative jitter `ModernClient.listen` runs with (its `jitter` option, on by default):
 * a reconnection comes after [½, 1½] × the backoff, so the clients of a restarted server
 * do not all return in the same instant. The chart's own default is none (deterministic).
 */
export const LISTEN_JITTER = 0.5

/** The reconnection policy of one subscription. */
export interface ListenStreamInput {
  /** Reconnections in a row before giving up (an acknowledgement resets the count). Default 5. */
  readonly maxAttempts?: number
  /** First reconnection delay; doubled each attempt. Default 500 ms. */
  readonly baseDelayMs?: number
  /** Cap of the reconnection delay. Default 30 s. */
  readonly maxDelayMs?: number
  /** How long the server may take to acknowledge. Default 30 s. */
  readonly acknowledgeTimeoutMs?: number
  /** Relative jitter of the reconnection delay: × a uniform factor in [1 − jitter, 1 + jitter]. Default 0 (none). */
  readonly jitter?: number
  /** Seed of the jitter's draws (a 32-bit integer; the runtime picks a random one). Default 0. */
  readonly seed?: number
}

/** What the subscription chart remembers: attempts so far, the last acknowledgement, and why it was lost. */
export interface ListenStreamContext {
  /** Consecutive losses without an acknowledgement in between. */
  readonly attempts: number
  readonly maxAttempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly acknowledgeTimeoutMs: number
  readonly jitter: number
  /** The stream's jitter seed (see {@link listenJitterDraw}). */
  readonly seed: number
  /** What the server agreed to deliver (the last acknowledgement). */
  readonly acknowledged: unknown
  /** Why the last stream was lost, or why the listen failed. */
  readonly reason: string | undefined
}

/**
 * Events the runtime sends:
 * - `ACKNOWLEDGED`: `notifications/subscriptions/acknowledged` for the current request;
 * - `COMPLETED`: the listen request got its result (the server closed the stream gracefully);
 * - `REJECTED`: the listen request got an error response (not retried);
 * - `LOST`: the stream broke without a result, or the server cancelled it;
 * - `CLOSE`: the caller is done;
 * - `TRANSPORT_CLOSED`: the client's wire ended.
 */
export type ListenStreamEvent =
  | { readonly type: "ACKNOWLEDGED"; readonly filter: unknown }
  | { readonly type: "COMPLETED" }
  | { readonly type: "REJECTED"; readonly reason: string }
  | { readonly type: "LOST"; readonly reason: string }
  | { readonly type: "CLOSE" }
  | { readonly type: "TRANSPORT_CLOSED"; readonly reason?: string }

/** Backoff before reconnection `attempt` (1-based): base × 2^(attempt-1), capped. */
export const listenReconnectDelay = (attempt: number, baseDelayMs: number, maxDelayMs: number): number =>
  backoffDelay({ baseMs: baseDelayMs, factor: 2, maxMs: maxDelayMs }, attempt)

/**
 * The jitter's random number for reconnection `attempt` of the stream seeded `seed`: one
 * step of the one PRNG (`nextRandom`). Different clients draw apart (their seeds differ);
 * a draw depends only on context, so the delay replays exactly.
 */
export const listenJitterDraw = (seed: number, attempt: number): number => nextRandom((seed + attempt) | 0)[0]

/**
 * How the listen request in flight ends, the same whether it was acknowledged
 * yet or not (both states are siblings of the targets).
 */
const requestEnds = {
  LOST: [
    { guard: "canReconnect", target: "waiting", actions: "recordLost" },
    { target: "failed", actions: "recordLost" }
  ],
  REJECTED: { target: "failed", actions: "recordReason" },
  COMPLETED: { target: "completed" },
  CLOSE: { target: "closed", actions: "cancelListen" }
} as const

/**
 * One `subscriptions/listen` stream with reconnection: subscribing → listening, lost →
 * waiting (backoff) → subscribing again, until closed, completed or failed. `Subscription` runs it.
 *
 * @example
 * ```ts
 * import { createActor, SimulatedClock } from "xstate"
 * import { listenStreamMachine } from "mcp-actors/machines"
 *
 * const clock = new SimulatedClock()
 * const stream = createActor(
 *   listenStreamMachine.provide({ actions: { sendListen: () => console.log("listen"), cancelListen: () => console.log("cancel") } }),
 *   { clock, input: { baseDelayMs: 500, maxAttempts: 3 } }
 * ).start()                                                     // "listen"
 * stream.send({ type: "ACKNOWLEDGED", filter: { toolsListChanged: true } })
 * stream.send({ type: "LOST", reason: "connection reset" })
 * console.log(stream.getSnapshot().value)                       // "waiting"
 * clock.increment(500)                                          // "listen": the next attempt
 * stream.send({ type: "CLOSE" })                                // "cancel"
 * ```
 */
export const listenStreamMachine = setup({
  types: {
    context: {} as ListenStreamContext,
    events: {} as ListenStreamEvent,
    input: {} as ListenStreamInput
  },
  actions: {
    /** Effect: send `subscriptions/listen` with a new request id (the runtime owns ids and the filter). */
    sendListen: () => {},
    /** Effect: cancel the current listen request (HTTP: close its stream; stdio: `notifications/cancelled`). */
    cancelListen: () => {},
    recordAcknowledged: assign({
      attempts: 0,
      acknowledged: ({ event }) => (event.type === "ACKNOWLEDGED" ? event.filter : undefined),
      reason: undefined
    }),
    recordLost: assign({
      attempts: ({ context }) => context.attempts + 1,
      reason: ({ event }) => (event.type === "LOST" || event.type === "REJECTED" ? event.reason : "no acknowledgement in time")
    }),
    recordReason: assign({
      reason: ({ context, event }) =>
        event.type === "REJECTED" || event.type === "LOST" || event.type === "TRANSPORT_CLOSED" ? event.reason ?? "transport closed" : context.reason
    })
  },
  guards: {
    /** Another reconnection is within the budget of this outage. */
    canReconnect: ({ context }) => context.attempts < context.maxAttempts
  },
  delays: {
    acknowledgeTimeout: ({ context }) => context.acknowledgeTimeoutMs,
    /** Exponential in the attempts so far (`recordLost` has counted the current one), jittered by this attempt's draw. */
    reconnectDelay: ({ context }) =>
      jittered(
        listenReconnectDelay(context.attempts, context.baseDelayMs, context.maxDelayMs),
        context.jitter,
        listenJitterDraw(context.seed, context.attempts)
      )
  }
}).createMachine({
  id: "listenStream",
  context: ({ input }) => ({
    attempts: 0,
    maxAttempts: input.maxAttempts ?? DEFAULT_LISTEN_MAX_ATTEMPTS,
    baseDelayMs: input.baseDelayMs ?? DEFAULT_LISTEN_BASE_DELAY_MS,
    maxDelayMs: input.maxDelayMs ?? DEFAULT_LISTEN_MAX_DELAY_MS,
    acknowledgeTimeoutMs: input.acknowledgeTimeoutMs ?? DEFAULT_LISTEN_ACKNOWLEDGE_TIMEOUT_MS,
    jitter: input.jitter ?? 0,
    seed: input.seed ?? 0,
    acknowledged: undefined,
    reason: undefined
  }),
  initial: "subscribing",
  on: {
    TRANSPORT_CLOSED: { target: ".ended", actions: "recordReason" }
  },
  states: {
    subscribing: {
      entry: "sendListen",
      after: {
        acknowledgeTimeout: [
          { guard: "canReconnect", target: "waiting", actions: ["cancelListen", "recordLost"] },
          { target: "failed", actions: ["cancelListen", "recordLost"] }
        ]
      },
      on: {
        ACKNOWLEDGED: { target: "listening", actions: "recordAcknowledged" },
        ...requestEnds
      }
    },
    listening: {
      // A new stream: this outage gets the whole budget (attempts were reset on ACKNOWLEDGED).
      on: requestEnds
    },
    waiting: {
      after: { reconnectDelay: { target: "subscribing" } },
      on: { CLOSE: { target: "closed" } }
    },
    closed: { type: "final" },
    completed: { type: "final" },
    failed: { type: "final" },
    ended: { type: "final" }
  }
})

/** The subscription chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type ListenStreamMachine = typeof listenStreamMachine
