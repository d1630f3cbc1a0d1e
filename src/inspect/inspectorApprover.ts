/**
 * The inspector page as an approver (`--approver inspector`): calls waiting in
 * the `awaitingApproval` state of their `policedRequest` chart are listed on
 * the page, and its Approve / Deny buttons answer them over the inspector's
 * authenticated channel (the per-start token, foreign Origins refused).
 *
 * It is a policy `Approver` by shape (`name`, `ask(pending, signal)`): the
 * inspect layer sits below the policy gateway's users but beside it, so the
 * pending call's shape is restated here rather than imported. `ask` resolves
 * when the page answers; the signal aborts when the chart leaves
 * `awaitingApproval` some other way (the CLI's answer in the store, the
 * deadline, the caller going away), and the approval leaves the panel.
 */
import { redactId, toJsonSafe } from "./redact.ts"

/** A call waiting for approval (the policy gateway's `PendingApproval`). */
export interface InspectorPendingApproval {
  readonly id: string
  readonly principal: string
  readonly sessionId: string | undefined
  readonly server: string
  readonly method: string
  readonly target: string
  readonly argsDigest: string
  readonly args?: unknown
  readonly policies: ReadonlyArray<string>
  readonly reason: string
  readonly requestedAt: number
  readonly deadline: number
}

/** An answer, recorded with who gave it (`by`: "inspector"). */
export interface InspectorApprovalAnswer {
  readonly approved: boolean
  readonly by: string
  readonly reason?: string
}

/** What the panel hears: an approval appeared, or left (answered here or elsewhere, expired, cancelled). */
export type ApprovalChange =
  | { readonly type: "pending"; readonly pending: InspectorPendingApproval }
  | { readonly type: "gone"; readonly id: string; readonly answered: "inspector" | "elsewhere" }

interface Waiting {
  readonly pending: InspectorPendingApproval
  readonly resolve: (a: InspectorApprovalAnswer) => void
}

/**
 * Give it to the policy gateway as its approver and to the inspector (`approver`): the page answers.
 *
 * @example
 * ```ts
 * import { Approvals, ApprovalStore, InspectorApprover, makeHttpServer, McpServer, PolicyEngine, policyGuard } from "mcp-actors"
 *
 * const approver = new InspectorApprover()
 * const server = new McpServer({ name: "ops", version: "1.0.0" })
 * const approvals = new Approvals({ store: ApprovalStore.open("approvals.jsonl") })
 * server.guard = policyGuard({ engine: PolicyEngine.fromFile("policy.yaml"), server: "ops", approvals, approver })
 * const http = await makeHttpServer(server, { inspect: { approver } })
 * console.log(`approve at ${http.inspector!.url}`)   // the "Pending approvals" panel
 * ```
 */
export class InspectorApprover {
  readonly name = "inspector"
  private readonly waiting = new Map<string, Waiting>()
  private readonly listeners = new Set<(c: ApprovalChange) => void>()

  ask(pending: InspectorPendingApproval, signal: AbortSignal): Promise<InspectorApprovalAnswer> {
    return new Promise((resolve) => {
      if (signal.aborted) return
      this.waiting.set(pending.id, { pending, resolve })
      // Answered elsewhere, expired or cancelled: the chart left awaitingApproval and aborted us.
      signal.addEventListener("abort", () => this.leave(pending.id, "elsewhere"), { once: true })
      this.emit({ type: "pending", pending })
    })
  }

  /** Approvals the page can answer now, oldest first. */
  pending(): ReadonlyArray<InspectorPendingApproval> {
    return [...this.waiting.values()].map((w) => w.pending)
  }

  /** The page's answer; false when `id` is not waiting (already answered elsewhere, expired, unknown). */
  answer(id: string, approved: boolean, reason?: string): boolean {
    const w = this.waiting.get(id)
    if (w === undefined) return false
    this.leave(id, "inspector")
    w.resolve({ approved, by: this.name, ...(reason === undefined ? {} : { reason }) })
    return true
  }

  /** Hear approvals come and go; returns the unsubscribe. */
  subscribe(listener: (c: ApprovalChange) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  private leave(id: string, answered: "inspector" | "elsewhere"): void {
    if (!this.waiting.delete(id)) return
    this.emit({ type: "gone", id, answered })
  }

  private emit(c: ApprovalChange): void {
    for (const l of [...this.listeners]) l(c)
  }
}

/** The panel's row on the feed: argument values and the full session id only when secrets are shown. */
export const approvalFeedObject = (p: InspectorPendingApproval, showSecrets: boolean): Record<string, unknown> => ({
  type: "@mcp-actors.approval",
  id: p.id,
  principal: p.principal,
  session: p.sessionId === undefined ? null : redactId(p.sessionId, showSecrets),
  server: p.server,
  method: p.method,
  target: p.target,
  argsDigest: p.argsDigest,
  ...(showSecrets && p.args !== undefined ? { args: toJsonSafe(p.args, { showSecrets }) } : {}),
  policies: p.policies,
  reason: p.reason,
  requestedAt: p.requestedAt,
  deadline: p.deadline,
  createdAt: Date.now()
})

export const approvalGoneFeedObject = (id: string, answered: "inspector" | "elsewhere"): Record<string, unknown> => ({
  type: "@mcp-actors.approval.gone",
  id,
  answered,
  createdAt: Date.now()
})

/** A decision from the page (a WebSocket message or a POST body); a string says why it is malformed. */
export const parseApprovalDecision = (body: unknown): { readonly id?: string; readonly approved: boolean; readonly reason?: string } | string => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "the decision must be a JSON object"
  const b = body as Record<string, unknown>
  if (typeof b.approved !== "boolean") return "the decision needs a boolean \"approved\""
  if (Object.hasOwn(b, "reason") && typeof b.reason !== "string") return "\"reason\" must be a string"
  if (Object.hasOwn(b, "id") && typeof b.id !== "string") return "\"id\" must be a string"
  return {
    approved: b.approved,
    ...(typeof b.id === "string" ? { id: b.id } : {}),
    ...(typeof b.reason === "string" ? { reason: b.reason.slice(0, 500) } : {})
  }
}
