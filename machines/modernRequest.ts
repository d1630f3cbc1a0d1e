/**
 * One modern-era (2026-07-28) request on the server, from the POST (or stdio
 * line) to its one response: the era has no session, so the request *is* the
 * lifecycle (2026-07-28/basic/index.mdx:L184-L209; spec-digest §2.B, §3.B).
 *
 * - `validating`: the per-request `_meta` (protocol version, client capabilities)
 *   is read by the runtime (`readModernContext`) and arrives as `VALIDATED` or
 *   `INVALID` (-32602 / -32022, answered at once: `failed`).
 * - `dispatching`: the method runs (`dispatch`, provided). Related notifications
 *   (progress, request-scoped logs) go out as they come (`MESSAGE`, a self-transition:
 *   the first one turns the HTTP answer into an SSE stream). A retry of an MRTR
 *   round carries `requestState` (`round` > 0 in `VALIDATED`).
 * - `awaitingInput` (final for this POST): the handler asked the client for input
 *   (MRTR: `input_required` with the sealed `requestState`); the client's retry is a
 *   new request with a new id, which enters `validating` → `dispatching` again.
 *   MRTR is stateless by design, so the rounds ⇄ is across requests, not inside one actor.
 * - `responded` (a result) or `failed` (an error response, invalid `_meta`, or
 *   the server shutting down: the handler is aborted and the client told).
 * - `cancelled`: the client closed the response stream (HTTP: "MUST be treated
 *   as cancellation", streamable-http.mdx:L235-L240): the handler is aborted and
 *   nothing more is sent.
 * - `timedOut`: the optional `deadlineMs` passed: the handler is aborted and the
 *   client gets an error response (`answerTimeout`, provided).
 *
 * Pure chart: `ModernRequest` provides `dispatch`, `deliver`, `abortHandler`,
 * `answerShutdown`, `answerTimeout`.
 */
import { assign, setup } from "xstate"
import type { RequestId } from "../src/protocol/jsonrpc.ts"

/** What one modern request starts from. */
export interface ModernRequestInput {
  readonly id: RequestId
  readonly method: string
  /** Abort and answer a timeout after this long; 0 or absent: no deadline. */
  readonly deadlineMs?: number
}

/** What the request chart remembers (all serializable). */
export interface ModernRequestContext {
  readonly id: RequestId
  readonly method: string
  readonly deadlineMs: number
  /** 0 for a first request, n for the retry of MRTR round n. */
  readonly round: number
  /** Related notifications sent so far (the first one upgraded HTTP to SSE). */
  readonly messages: number
  /** The JSON-RPC error code of a `failed` request. */
  readonly errorCode: number | undefined
  /** Why it was cancelled or failed without a handler error. */
  readonly reason: string | undefined
}

/**
 * - `VALIDATED`: `_meta` is valid; `round` > 0 for an MRTR retry (it carries `requestState`);
 * - `INVALID`: `_meta` is not (the `code` was answered);
 * - `MESSAGE`: a related notification went out;
 * - `ANSWERED`: the handler's response went out (`outcome` from its body);
 * - `DISCONNECTED`: the client closed the response stream;
 * - `SHUTDOWN`: the server is shutting down (answer `code`/`message`).
 */
export type ModernRequestEvent =
  | { readonly type: "VALIDATED"; readonly round: number }
  | { readonly type: "INVALID"; readonly code: number }
  | { readonly type: "MESSAGE" }
  | { readonly type: "ANSWERED"; readonly outcome: "result" | "inputRequired" | "error"; readonly code?: number }
  | { readonly type: "DISCONNECTED"; readonly reason: string }
  | { readonly type: "SHUTDOWN"; readonly code: number; readonly message: string }

/**
 * One modern request: validating → dispatching (messages flow) → responded, awaitingInput
 * (MRTR `input_required`), failed, cancelled (client disconnect) or timedOut.
 */
export const modernRequestMachine = setup({
  types: {
    context: {} as ModernRequestContext,
    events: {} as ModernRequestEvent,
    input: {} as ModernRequestInput
  },
  actions: {
    /** Effect: run the method (the method table, with the request's handler context). */
    dispatch: () => {},
    /** Effect: abort the handler (`ctx.signal`); nothing more is sent for it. */
    abortHandler: () => {},
    /** Effect: answer the client with the shutdown error. */
    answerShutdown: () => {},
    /** Effect: answer the client that the request timed out. */
    answerTimeout: () => {},
    recordRound: assign(({ context, event }) => (event.type === "VALIDATED" && event.round !== context.round ? { round: event.round } : {})),
    countMessage: assign({ messages: ({ context }) => context.messages + 1 }),
    recordError: assign({
      errorCode: ({ context, event }) => (event.type === "INVALID" || event.type === "SHUTDOWN" ? event.code : event.type === "ANSWERED" ? event.code : context.errorCode),
      reason: ({ context, event }) => (event.type === "SHUTDOWN" ? event.message : context.reason)
    }),
    recordCancel: assign({ reason: ({ event }) => (event.type === "DISCONNECTED" ? event.reason : "cancelled") })
  },
  guards: {
    hasDeadline: ({ context }) => context.deadlineMs > 0,
    isResult: ({ event }) => event.type === "ANSWERED" && event.outcome === "result",
    isInputRequired: ({ event }) => event.type === "ANSWERED" && event.outcome === "inputRequired"
  },
  delays: {
    deadline: ({ context }) => context.deadlineMs
  }
}).createMachine({
  id: "modernRequest",
  context: ({ input }) => ({
    id: input.id,
    method: input.method,
    deadlineMs: input.deadlineMs ?? 0,
    round: 0,
    messages: 0,
    errorCode: undefined,
    reason: undefined
  }),
  initial: "validating",
  states: {
    validating: {
      on: {
        // No `always` to choose (an eventless check on every later step costs on the hot path).
        VALIDATED: [
          { guard: "hasDeadline", target: "dispatching.bounded", actions: "recordRound" },
          { target: "dispatching", actions: "recordRound" }
        ],
        INVALID: { target: "failed", actions: "recordError" }
      }
    },
    dispatching: {
      entry: "dispatch",
      initial: "unbounded",
      states: {
        /** No timer at all when there is no deadline (the common case). */
        unbounded: {},
        bounded: {
          after: { deadline: { target: "#modernRequest.timedOut", actions: ["abortHandler", "answerTimeout"] } }
        }
      },
      on: {
        MESSAGE: { actions: "countMessage" },
        ANSWERED: [
          { guard: "isResult", target: "responded" },
          { guard: "isInputRequired", target: "awaitingInput" },
          { target: "failed", actions: "recordError" }
        ],
        DISCONNECTED: { target: "cancelled", actions: ["recordCancel", "abortHandler"] },
        SHUTDOWN: { target: "failed", actions: ["recordError", "abortHandler", "answerShutdown"] }
      }
    },
    responded: { type: "final" },
    /** Answered `input_required` (MRTR): the client retries with a new request and the sealed `requestState`. */
    awaitingInput: { type: "final" },
    failed: { type: "final" },
    cancelled: { type: "final" },
    timedOut: { type: "final" }
  }
})

/** The modern request chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type ModernRequestMachine = typeof modernRequestMachine
