/**
 * Runs the `policedRequest` chart for calls that need approval: records the
 * pending approval durably, asks the approver, keeps the caller alive with
 * progress, and ends in approved (the call runs), rejected, expired (the
 * deadline is a deny) or cancelled. The deadline, the keep-alive and the
 * deadlines of approvals restored after a restart run on one {@link Clock}
 * (src/protocol/clock.ts), and every time stamped on a pending approval
 * (`requestedAt`, `deadline`, an answer's `at`) is read from that same clock:
 * pass the runtime's clock (the one the HTTP server's sessions run on) and a
 * test drives the whole wait on virtual time.
 *
 * Approvers are pluggable: anything with `ask(pending, signal)` that resolves
 * to an answer, or returns `undefined` when the answer will come from
 * elsewhere (the CLI appending to the store, the inspector calling `answer`).
 */
import { randomUUID } from "node:crypto"
import type { Actor } from "xstate"
import { defaultMcpRuntime, type McpRuntime } from "../runtime/McpRuntime.ts"
import { type PolicedOutcome, policedRequestMachine } from "../../machines/policedRequest.ts"
import { errorMessage } from "../protocol/errors.ts"
import { type Clock, clockOf } from "../protocol/clock.ts"
import type { ApprovalAnswer, ApprovalStore, PendingApproval, Resolution } from "./ApprovalStore.ts"

/** Who decides approvals: answers directly (client, webhook) or returns undefined when the answer arrives through the store (CLI, inspector). */
export interface Approver {
  readonly name: string
  /** The answer, or undefined when it arrives through `Approvals.answer` (CLI, inspector). */
  ask(pending: PendingApproval, signal: AbortSignal): Promise<ApprovalAnswer> | undefined
}

/** Thrown by an approver that cannot answer now but whose caller must end its request differently (MRTR input_required). */
export class ApprovalDeferred extends Error {
  override readonly cause: unknown
  constructor(cause: unknown) {
    super("approval deferred")
    this.name = "ApprovalDeferred"
    this.cause = cause
  }
}

/** How an approval ended: approved (by whom, when), or rejected, expired or cancelled, each a deny. */
export type ApprovalResult =
  | { readonly approved: true; readonly id: string; readonly by: string; readonly at: number }
  | { readonly approved: false; readonly id: string; readonly outcome: "rejected" | "expired" | "cancelled"; readonly reason: string; readonly by: string }

export interface ApprovalTicket {
  readonly id: string
  /** Settles when the chart leaves `awaitingApproval`; rejects with the approver's ApprovalDeferred cause. */
  readonly result: Promise<ApprovalResult>
  /** The call ran (after approval): ends the chart in `completed`. */
  complete(ok: boolean): void
}

export interface ApprovalsOptions {
  readonly store: ApprovalStore
  /**
   * The runtime's clock: approval deadlines and keep-alives are its timers.
   * Default: the system clock. A timers-only clock (no `now`) keeps the system time.
   */
  readonly clock?: Pick<Clock, "setTimeout" | "clearTimeout">
  /** The time stamped on approvals. Default: the clock's `now`, so a deadline and its timer agree. */
  readonly now?: () => number
  /** Progress to the caller this often while waiting. Default 10 s; 0 = none. */
  readonly keepAliveMs?: number
  /** The runtime whose tree each approval's chart joins (under its root). Default: the process's. */
  readonly runtime?: McpRuntime
}

/** The CLI approver: answers arrive via the store file (`mcp-actors approvals approve ID`). */
export const storeApprover: Approver = { name: "cli", ask: () => undefined }

/** POST the pending approval as JSON; the reply `{ "approved": bool, "by"?: string, "reason"?: string }` is the answer. */
export const webhookApprover = (url: string, headers: Readonly<Record<string, string>> = {}): Approver => ({
  name: `webhook ${new URL(url).host}`,
  ask: async (pending, signal) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(pending), signal })
    if (!res.ok) throw new Error(`webhook answered ${res.status}`)
    const body = await res.json() as { approved?: unknown; by?: unknown; reason?: unknown }
    if (typeof body.approved !== "boolean") throw new Error("webhook reply lacks a boolean \"approved\"")
    return {
      approved: body.approved,
      by: typeof body.by === "string" ? body.by : `webhook ${new URL(url).host}`,
      ...(typeof body.reason === "string" ? { reason: body.reason } : {})
    }
  }
})

/** Runs one `policedRequest` chart per call awaiting approval: records it, asks the approver, keeps the caller alive with progress and enforces the deadline. */
export class Approvals {
  readonly store: ApprovalStore
  /** The clock the deadlines run on. */
  readonly clock: Clock
  /** The time on that clock (what `deadline` and `at` are stamped with; the policy guard reads it too). */
  readonly now: () => number
  private readonly keepAliveMs: number
  private readonly runtime: McpRuntime
  private readonly live = new Map<string, Actor<typeof policedRequestMachine>>()
  /** Deadlines of approvals restored from the store with no caller waiting. */
  private readonly orphanTimers = new Map<string, unknown>()

  constructor(options: ApprovalsOptions) {
    this.store = options.store
    const clock = this.clock = clockOf(options.clock)
    this.now = options.now ?? (() => clock.now())
    this.keepAliveMs = options.keepAliveMs ?? 10_000
    this.runtime = options.runtime ?? defaultMcpRuntime()
    this.restore()
    this.store.watch((id, r) => this.answered(id, r))
  }

  /** Approvals still waiting (this process's and those restored from the store). */
  pending(): ReadonlyArray<PendingApproval> {
    return this.store.pending()
  }

  /** Start the approval of one call. */
  request(input: {
    readonly pending: Omit<PendingApproval, "id" | "requestedAt" | "deadline">
    readonly approvalTimeoutMs: number
    readonly approver: Approver
    /** Called every keep-alive interval while waiting (send the caller progress). */
    readonly keepAlive?: () => void
    /** The caller went away: the approval is cancelled. */
    readonly signal?: AbortSignal
  }): ApprovalTicket {
    const id = randomUUID()
    const requestedAt = this.now()
    const pending: PendingApproval = { ...input.pending, id, requestedAt, deadline: requestedAt + input.approvalTimeoutMs }
    const asking = new AbortController()
    let settle!: (r: ApprovalResult) => void
    let fail!: (e: unknown) => void
    const result = new Promise<ApprovalResult>((resolve, reject) => {
      settle = resolve
      fail = reject
    })
    let deferred: unknown
    const live = () => actor.getSnapshot().status === "active"
    const actor = this.runtime.node(
      policedRequestMachine.provide({
        actions: {
          askApprover: () => {
            this.store.add(pending)
            // Asked after the chart has settled into `awaitingApproval` (answers may come back at once).
            queueMicrotask(() => {
              let answer: Promise<ApprovalAnswer> | undefined
              try {
                answer = input.approver.ask(pending, asking.signal)
              } catch (e) {
                answer = Promise.reject(e)
              }
              // An answer after the chart ended (the deadline passed, the caller left) has nothing to decide.
              answer?.then(
                (a) => {
                  if (live()) actor.send(a.approved ? { type: "APPROVED", by: a.by } : { type: "REJECTED", by: a.by, ...(a.reason === undefined ? {} : { reason: a.reason }) })
                },
                (e) => {
                  if (!live()) return
                  if (e instanceof ApprovalDeferred) {
                    deferred = e.cause
                    actor.send({ type: "CANCELLED", reason: "deferred to the client (input_required)" })
                  } else actor.send({ type: "REJECTED", by: input.approver.name, reason: errorMessage(e) })
                }
              )
            })
          },
          keepAlive: () => input.keepAlive?.(),
          runCall: ({ context }) => {
            const by = context.approvedBy ?? input.approver.name
            this.store.resolve(id, { approved: true, by, at: this.now(), outcome: "approved" }, true)
            settle({ approved: true, id, by, at: this.now() })
          }
        }
      }),
      { clock: this.clock, input: { approvalTimeoutMs: input.approvalTimeoutMs, keepAliveMs: input.keepAlive === undefined ? 0 : this.keepAliveMs } }
    )
    actor.subscribe({
      complete: () => {
        this.live.delete(id)
        asking.abort()
        input.signal?.removeEventListener("abort", onAbort)
        const out = actor.getSnapshot().output as PolicedOutcome
        if (out._tag === "Completed") return
        const outcome = out._tag === "Cancelled" ? "cancelled" as const : out.by === "deadline" ? "expired" as const : "rejected" as const
        const by = out._tag === "Denied" ? out.who ?? out.by : "caller"
        const reason = out.reason
        this.store.resolve(id, { approved: false, by, reason, at: this.now(), outcome }, true)
        if (deferred !== undefined) fail(deferred)
        else settle({ approved: false, id, outcome, reason, by })
      }
    })
    const onAbort = () => actor.send({ type: "CANCELLED", reason: "the caller went away" })
    input.signal?.addEventListener("abort", onAbort, { once: true })
    this.live.set(id, actor)
    actor.start()
    actor.send({ type: "DECIDED", decision: "approve", reason: pending.reason })
    if (input.signal?.aborted) onAbort()
    return {
      id,
      result,
      complete: (ok) => actor.send({ type: "COMPLETED", ok })
    }
  }

  /** An answer from outside the approver (the inspector, an API): false when the id is not waiting. */
  answer(id: string, answer: ApprovalAnswer): boolean {
    const actor = this.live.get(id)
    if (actor !== undefined) {
      if (!actor.getSnapshot().matches("awaitingApproval")) return false
      actor.send(answer.approved ? { type: "APPROVED", by: answer.by } : { type: "REJECTED", by: answer.by, ...(answer.reason === undefined ? {} : { reason: answer.reason }) })
      return true
    }
    // Restored from the store, nobody waiting: record it (an approval becomes a grant for a retry).
    const p = this.store.get(id)
    if (p === undefined) return false
    this.clearOrphan(id)
    return this.store.resolve(id, { ...answer, at: this.now(), outcome: answer.approved ? "approved" : "rejected" }, false)
  }

  /** A resolution appended by another process: wake the waiting chart. */
  private answered(id: string, r: Resolution): void {
    this.clearOrphan(id)
    const actor = this.live.get(id)
    if (actor === undefined || !actor.getSnapshot().matches("awaitingApproval")) return
    actor.send(r.approved ? { type: "APPROVED", by: r.by } : { type: "REJECTED", by: r.by, ...(r.reason === undefined ? {} : { reason: r.reason }) })
  }

  /** After a restart: pending approvals stay visible until answered or expired. */
  private restore(): void {
    const now = this.now()
    for (const p of this.store.pending()) {
      if (p.deadline <= now) {
        this.store.resolve(p.id, { approved: false, by: "deadline", reason: "expired while the gateway was down", at: now, outcome: "expired" }, false)
        continue
      }
      this.orphanTimers.set(p.id, this.clock.setTimeout(() => {
        this.orphanTimers.delete(p.id)
        this.store.resolve(p.id, { approved: false, by: "deadline", reason: "no approval before the deadline", at: this.now(), outcome: "expired" }, false)
      }, p.deadline - now))
    }
  }

  private clearOrphan(id: string): void {
    const t = this.orphanTimers.get(id)
    if (t === undefined) return
    this.orphanTimers.delete(id)
    this.clock.clearTimeout(t)
  }

  /** Cancel every waiting approval and stop timers and watchers. */
  close(): void {
    for (const a of [...this.live.values()]) a.send({ type: "CANCELLED", reason: "gateway shutting down" })
    for (const id of [...this.orphanTimers.keys()]) this.clearOrphan(id)
    this.store.close()
  }
}
