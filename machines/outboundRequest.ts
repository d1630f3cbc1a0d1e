/**
 * One outbound JSON-RPC request, from send to outcome: `pending` → `settled` |
 * `failed` | `timedOut` | `cancelled` | `aborted`.
 *
 * Spec (2025-11-25/basic/lifecycle.mdx:L246-L261, 2026-07-28/basic/patterns/cancellation.mdx:L45-L64):
 * - implementations SHOULD establish timeouts for all sent requests, configurable per
 *   request → named delay `requestTimeout`, from input, overridable with `.provide({ delays })`;
 * - on timeout the sender SHOULD issue a cancellation notification and stop waiting
 *   → action `sendCancelled` on the way to `timedOut`;
 * - implementations MAY reset the timeout clock on progress but SHOULD always enforce a
 *   maximum → `requestTimeout` lives on the child `pending.awaitingResponse`, which a
 *   `PROGRESS` re-enters (restarting it), while `maxTotalTimeout` lives on the parent
 *   `pending`, which is entered once, so it is measured from the start and never reset.
 *
 * Late messages: every outcome state is `type: "final"`, so the actor is done and any
 * later `RESPONSE`, `ERROR_RESPONSE`, `PROGRESS` or `CANCEL` is an unhandled event: the
 * pure `transition()` returns the same snapshot and no actions, and a done actor ignores
 * it. That is how late responses are dropped (2025-11-25/basic/utilities/cancellation.mdx:L45 — the sender SHOULD
 * ignore any response that arrives after a cancellation; L53 — handle races gracefully)
 * and how progress stops after completion (2025-11-25/basic/utilities/progress.mdx:L94).
 *
 * Progress-token injection into `params._meta.progressToken` is the runtime's job; the
 * token is kept in context (input `progressToken`) so the runtime can route
 * `notifications/progress` to this actor.
 */
import { assign, setup } from "xstate"
import type { RpcErrorObject } from "../src/protocol/errors.ts"
import type { ProgressToken, RequestId } from "../src/protocol/jsonrpc.ts"

/** [SDK] `DEFAULT_REQUEST_TIMEOUT_MSEC = 60000` in TS SDK v1 and v2. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
/** Hard cap when the input gives none: ten request timeouts (spec: SHOULD always enforce a maximum). */
export const DEFAULT_MAX_TOTAL_TIMEOUT_FACTOR = 10

/** One request's identity and deadlines. */
export interface OutboundRequestInput {
  readonly requestId: RequestId
  readonly method: string
  readonly progressToken?: ProgressToken
  /** Idle deadline; restarted by progress when `resetTimeoutOnProgress`. Default 60 s. */
  readonly timeoutMs?: number
  /** Restart the deadline on each progress notification that advances. Default false. */
  readonly resetTimeoutOnProgress?: boolean
  /** Hard maximum from the start, whatever progress says. Default `10 × timeoutMs`. */
  readonly maxTotalTimeoutMs?: number
}

/** The last `notifications/progress` seen for the request. */
export interface ProgressSnapshot {
  readonly progress: number
  readonly total?: number
  readonly message?: string
}

/** How the request ended: the actor's output. */
export type OutboundRequestOutcome =
  | { readonly _tag: "Settled"; readonly requestId: RequestId; readonly result: unknown }
  | { readonly _tag: "Failed"; readonly requestId: RequestId; readonly error: RpcErrorObject }
  | {
    readonly _tag: "TimedOut"
    readonly requestId: RequestId
    /** `request`: no answer (or progress) within `timeoutMs`; `maxTotal`: the hard cap fired. */
    readonly deadline: "request" | "maxTotal"
    readonly afterMs: number
    /** Whether `notifications/cancelled` was sent (never for `initialize`). */
    readonly cancelSent: boolean
  }
  | { readonly _tag: "Cancelled"; readonly requestId: RequestId; readonly reason: string | undefined; readonly cancelSent: boolean }
  | { readonly _tag: "Aborted"; readonly requestId: RequestId; readonly reason: string }

/** What the request chart remembers: its deadlines, the last progress, and its outcome. */
export interface OutboundRequestContext {
  readonly requestId: RequestId
  readonly method: string
  readonly progressToken: ProgressToken | undefined
  readonly timeoutMs: number
  readonly resetTimeoutOnProgress: boolean
  readonly maxTotalTimeoutMs: number
  readonly lastProgress: ProgressSnapshot | undefined
  readonly outcome: OutboundRequestOutcome | undefined
}

/**
 * Events the runtime sends:
 * - `RESPONSE` / `ERROR_RESPONSE`: the matching JSON-RPC response;
 * - `PROGRESS`: a `notifications/progress` carrying this request's token;
 * - `CANCEL`: the caller gave up (abort signal, fiber interruption);
 * - `TRANSPORT_CLOSED`: the transport is gone, fail fast (no cancellation can be sent).
 */
export type OutboundRequestEvent =
  | { readonly type: "RESPONSE"; readonly result: unknown }
  | { readonly type: "ERROR_RESPONSE"; readonly error: RpcErrorObject }
  | { readonly type: "PROGRESS"; readonly progress: number; readonly total?: number; readonly message?: string }
  | { readonly type: "CANCEL"; readonly reason?: string }
  | { readonly type: "TRANSPORT_CLOSED"; readonly reason?: string }

/**
 * Id of the child actor that runs one in-flight request in its client's chart
 * (`request.<id>`; its done event is `xstate.done.actor.request.<id>`).
 */
export const requestChildId = (requestId: RequestId): string => `request.${requestId}`

/** Methods that MUST NOT be cancelled by the client (2025-11-25/basic/utilities/cancellation.mdx:L35). */
export const NON_CANCELLABLE_METHODS: ReadonlySet<string> = new Set(["initialize"])

/** Whether a request may be cancelled with `notifications/cancelled` (`initialize` may not). */
export const isCancellableMethod = (method: string): boolean => !NON_CANCELLABLE_METHODS.has(method)

/** A `PROGRESS` event that moves past the last recorded value (the first one always does). */
const advances = (context: OutboundRequestContext, event: OutboundRequestEvent): boolean =>
  event.type === "PROGRESS" && (context.lastProgress === undefined || event.progress > context.lastProgress.progress)

/**
 * One outbound request from send to outcome, with a deadline that progress may restart and
 * a hard maximum that it never does. Both clients run one per request.
 *
 * @example
 * ```ts
 * import { createActor, SimulatedClock } from "xstate"
 * import { outboundRequestMachine } from "mcp-actors/machines"
 *
 * const clock = new SimulatedClock()
 * const request = createActor(
 *   outboundRequestMachine.provide({ actions: { sendCancelled: () => console.log("sent notifications/cancelled") } }),
 *   { clock, input: { requestId: 7, method: "tools/call", timeoutMs: 5_000, resetTimeoutOnProgress: true } }
 * ).start()
 * clock.increment(4_000)
 * request.send({ type: "PROGRESS", progress: 1, total: 2 })   // restarts the 5 s deadline
 * clock.increment(4_000)                                      // still pending
 * clock.increment(1_000)                                      // "sent notifications/cancelled"
 * console.log(request.getSnapshot().output)                   // { _tag: "TimedOut", requestId: 7, deadline: "request", afterMs: 5000, cancelSent: true }
 * ```
 */
export const outboundRequestMachine = setup({
  types: {
    context: {} as OutboundRequestContext,
    events: {} as OutboundRequestEvent,
    input: {} as OutboundRequestInput,
    output: {} as OutboundRequestOutcome
  },
  actions: {
    /**
     * Effect: send `notifications/cancelled { requestId, reason }` (2025-11-25/basic/utilities/cancellation.mdx:L32 —
     * only for requests issued in the same direction and believed in progress).
     */
    sendCancelled: () => {},
    recordProgress: assign({
      lastProgress: ({ context, event }) =>
        event.type === "PROGRESS"
          ? { progress: event.progress, total: event.total, message: event.message }
          : context.lastProgress
    }),
    recordSettled: assign({
      outcome: ({ context, event }) => ({
        _tag: "Settled" as const,
        requestId: context.requestId,
        result: event.type === "RESPONSE" ? event.result : undefined
      })
    }),
    recordFailed: assign({
      outcome: ({ context, event }) => ({
        _tag: "Failed" as const,
        requestId: context.requestId,
        error: event.type === "ERROR_RESPONSE" ? event.error : { code: -32603, message: "unknown error" }
      })
    }),
    recordRequestTimeout: assign({
      outcome: ({ context }) => ({
        _tag: "TimedOut" as const,
        requestId: context.requestId,
        deadline: "request" as const,
        afterMs: context.timeoutMs,
        cancelSent: isCancellableMethod(context.method)
      })
    }),
    recordMaxTotalTimeout: assign({
      outcome: ({ context }) => ({
        _tag: "TimedOut" as const,
        requestId: context.requestId,
        deadline: "maxTotal" as const,
        afterMs: context.maxTotalTimeoutMs,
        cancelSent: isCancellableMethod(context.method)
      })
    }),
    recordCancelled: assign({
      outcome: ({ context, event }) => ({
        _tag: "Cancelled" as const,
        requestId: context.requestId,
        reason: event.type === "CANCEL" ? event.reason : undefined,
        cancelSent: isCancellableMethod(context.method)
      })
    }),
    recordAborted: assign({
      outcome: ({ context, event }) => ({
        _tag: "Aborted" as const,
        requestId: context.requestId,
        reason: event.type === "TRANSPORT_CLOSED" && event.reason !== undefined ? event.reason : "transport closed"
      })
    })
  },
  guards: {
    /** 2025-11-25/basic/utilities/cancellation.mdx:L35 — "The `initialize` request MUST NOT be cancelled by clients". */
    isCancellable: ({ context }) => isCancellableMethod(context.method),
    /**
     * "The `progress` value MUST increase with each notification" (2025-11-25/basic/utilities/progress.mdx:L53):
     * a value that does not advance (a repeat, a late one overtaken by a larger one) is ignored. Recording
     * it would let the next value "advance" again, reach the callback after a larger one and reset the deadline.
     */
    progressAdvances: ({ context, event }) => advances(context, event),
    /** Reset the deadline only when asked to, and only for progress that advances (a repeat is no proof of work). */
    resetsTimeoutOnProgress: ({ context, event }) => context.resetTimeoutOnProgress && advances(context, event)
  },
  delays: {
    requestTimeout: ({ context }) => context.timeoutMs,
    maxTotalTimeout: ({ context }) => context.maxTotalTimeoutMs
  }
}).createMachine({
  id: "outboundRequest",
  context: ({ input }) => {
    const timeoutMs = input.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    return {
      requestId: input.requestId,
      method: input.method,
      progressToken: input.progressToken,
      timeoutMs,
      resetTimeoutOnProgress: input.resetTimeoutOnProgress ?? false,
      maxTotalTimeoutMs: input.maxTotalTimeoutMs ?? timeoutMs * DEFAULT_MAX_TOTAL_TIMEOUT_FACTOR,
      lastProgress: undefined,
      outcome: undefined
    }
  },
  initial: "pending",
  states: {
    /** In flight. Entered once: its `after` is the hard maximum measured from the start. */
    pending: {
      initial: "awaitingResponse",
      after: {
        // 2025-11-25/basic/lifecycle.mdx:L246-L261 — SHOULD always enforce a maximum timeout, regardless of progress.
        maxTotalTimeout: [
          { guard: "isCancellable", target: "timedOut", actions: ["recordMaxTotalTimeout", "sendCancelled"] },
          { target: "timedOut", actions: "recordMaxTotalTimeout" }
        ]
      },
      on: {
        RESPONSE: { target: "settled", actions: "recordSettled" },
        ERROR_RESPONSE: { target: "failed", actions: "recordFailed" },
        // 2025-11-25/basic/utilities/cancellation.mdx:L35 — never send notifications/cancelled for `initialize`;
        // the caller still stops waiting.
        CANCEL: [
          { guard: "isCancellable", target: "cancelled", actions: ["recordCancelled", "sendCancelled"] },
          { target: "cancelled", actions: "recordCancelled" }
        ],
        // The transport is gone: fail fast; there is nobody to send a cancellation to.
        TRANSPORT_CLOSED: { target: "aborted", actions: "recordAborted" }
      },
      states: {
        /** The idle deadline; re-entered (timer restarted) by progress when configured. */
        awaitingResponse: {
          after: {
            // 2025-11-25/basic/lifecycle.mdx:L246-L261 — on timeout the sender SHOULD issue a cancellation
            // notification and stop waiting.
            requestTimeout: [
              { guard: "isCancellable", target: "#outboundRequest.timedOut", actions: ["recordRequestTimeout", "sendCancelled"] },
              { target: "#outboundRequest.timedOut", actions: "recordRequestTimeout" }
            ]
          },
          on: {
            PROGRESS: [
              // 2025-11-25/basic/lifecycle.mdx:L246-L261 — MAY reset the timeout clock on progress.
              { guard: "resetsTimeoutOnProgress", target: "awaitingResponse", reenter: true, actions: "recordProgress" },
              { guard: "progressAdvances", actions: "recordProgress" }
            ]
          }
        }
      }
    },
    settled: { type: "final" },
    failed: { type: "final" },
    timedOut: { type: "final" },
    cancelled: { type: "final" },
    aborted: { type: "final" }
  },
  output: ({ context }) =>
    context.outcome ?? { _tag: "Aborted", requestId: context.requestId, reason: "ended without outcome" }
})

/** The request chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type OutboundRequestMachine = typeof outboundRequestMachine
