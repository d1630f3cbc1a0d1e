/**
 * One request through the policy gateway: `deciding` → `running` (allowed),
 * `denied`, or `awaitingApproval` → `running` | `denied`; then `completed`.
 *
 * - `awaitingApproval` has the approval deadline (`approvalDeadline`, from
 *   input): expiry means deny. Entered once, so nothing resets it.
 * - Its child `waiting` re-enters every `keepAliveInterval`, running
 *   `keepAlive`: the runtime sends the caller progress so the caller's own
 *   request deadline (reset on progress) does not fire while a human decides.
 * - `askApprover` (entry) hands the pending approval to the approver
 *   (the calling client by elicitation / `input_required`, a webhook, the CLI);
 *   its answer arrives as `APPROVED` / `REJECTED`.
 * - `CANCELLED` (the caller went away, the session ended) ends it before the
 *   call runs; once running, the call ends with `COMPLETED` either way.
 *
 * Pure: no timers of its own (delays run on the actor's clock), no I/O; the
 * runtime (src/policy/Approvals.ts) supplies the actions.
 */
import { assign, setup } from "xstate"

export type PolicedDecision = "allow" | "deny" | "approve" | "rateLimited"

export interface PolicedRequestInput {
  readonly approvalTimeoutMs: number
  /** Progress to the caller while waiting; 0 = none. */
  readonly keepAliveMs: number
}

/** How the request ended: the actor's output. */
export type PolicedOutcome =
  | { readonly _tag: "Completed"; readonly ok: boolean; readonly approvedBy: string | undefined }
  | { readonly _tag: "Denied"; readonly by: "policy" | "approver" | "deadline"; readonly who?: string; readonly reason: string }
  | { readonly _tag: "Cancelled"; readonly reason: string }

export interface PolicedRequestContext {
  readonly approvalTimeoutMs: number
  readonly keepAliveMs: number
  readonly approvedBy: string | undefined
  readonly outcome: PolicedOutcome | undefined
}

export type PolicedRequestEvent =
  | { readonly type: "DECIDED"; readonly decision: PolicedDecision; readonly reason: string }
  | { readonly type: "APPROVED"; readonly by: string }
  | { readonly type: "REJECTED"; readonly by: string; readonly reason?: string }
  | { readonly type: "CANCELLED"; readonly reason: string }
  | { readonly type: "COMPLETED"; readonly ok: boolean }

export const policedRequestMachine = setup({
  types: {
    context: {} as PolicedRequestContext,
    events: {} as PolicedRequestEvent,
    input: {} as PolicedRequestInput,
    output: {} as PolicedOutcome
  },
  actions: {
    /** Effect: record the pending approval durably and ask the approver. */
    askApprover: () => {},
    /** Effect: tell the caller we are still working (progress), so its deadline does not fire. */
    keepAlive: () => {},
    /** Effect: run the call (the handler). */
    runCall: () => {},
    recordDenied: assign({
      outcome: ({ event }) => ({
        _tag: "Denied" as const,
        by: "policy" as const,
        reason: event.type === "DECIDED" ? event.reason : "denied"
      })
    }),
    recordApproved: assign({ approvedBy: ({ event }) => (event.type === "APPROVED" ? event.by : undefined) }),
    recordRejected: assign({
      outcome: ({ event }) => ({
        _tag: "Denied" as const,
        by: "approver" as const,
        who: event.type === "REJECTED" ? event.by : "approver",
        reason: event.type === "REJECTED" ? `rejected by ${event.by}${event.reason ? `: ${event.reason}` : ""}` : "rejected"
      })
    }),
    recordExpired: assign({
      outcome: ({ context }) => ({
        _tag: "Denied" as const,
        by: "deadline" as const,
        reason: `no approval within ${context.approvalTimeoutMs} ms`
      })
    }),
    recordCancelled: assign({
      outcome: ({ event }) => ({ _tag: "Cancelled" as const, reason: event.type === "CANCELLED" ? event.reason : "cancelled" })
    }),
    recordCompleted: assign({
      outcome: ({ context, event }) => ({
        _tag: "Completed" as const,
        ok: event.type === "COMPLETED" ? event.ok : false,
        approvedBy: context.approvedBy
      })
    })
  },
  guards: {
    isAllowed: ({ event }) => event.type === "DECIDED" && event.decision === "allow",
    needsApproval: ({ event }) => event.type === "DECIDED" && event.decision === "approve",
    keepsAlive: ({ context }) => context.keepAliveMs > 0
  },
  delays: {
    approvalDeadline: ({ context }) => context.approvalTimeoutMs,
    keepAliveInterval: ({ context }) => Math.max(1, context.keepAliveMs)
  }
}).createMachine({
  id: "policedRequest",
  context: ({ input }) => ({
    approvalTimeoutMs: input.approvalTimeoutMs,
    keepAliveMs: input.keepAliveMs,
    approvedBy: undefined,
    outcome: undefined
  }),
  initial: "deciding",
  states: {
    deciding: {
      on: {
        CANCELLED: { target: "cancelled", actions: "recordCancelled" },
        DECIDED: [
          { guard: "isAllowed", target: "running" },
          { guard: "needsApproval", target: "awaitingApproval" },
          { target: "denied", actions: "recordDenied" }
        ]
      }
    },
    /** A human (or a service) must say yes before the deadline; expiry is a deny. */
    awaitingApproval: {
      entry: "askApprover",
      initial: "waiting",
      after: { approvalDeadline: { target: "denied", actions: "recordExpired" } },
      on: {
        APPROVED: { target: "running", actions: "recordApproved" },
        REJECTED: { target: "denied", actions: "recordRejected" },
        CANCELLED: { target: "cancelled", actions: "recordCancelled" }
      },
      states: {
        waiting: {
          after: {
            keepAliveInterval: { guard: "keepsAlive", target: "waiting", reenter: true, actions: "keepAlive" }
          }
        }
      }
    },
    /** The handler runs; its cancellation is the session's business, and it still ends with COMPLETED. */
    running: {
      entry: "runCall",
      on: { COMPLETED: { target: "completed", actions: "recordCompleted" } }
    },
    completed: { type: "final" },
    denied: { type: "final" },
    cancelled: { type: "final" }
  },
  output: ({ context }) => context.outcome ?? { _tag: "Cancelled", reason: "ended without outcome" }
})

export type PolicedRequestMachine = typeof policedRequestMachine
