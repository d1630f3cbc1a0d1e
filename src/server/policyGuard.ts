/**
 * The policy gateway as middleware for one `McpServer`: every `tools/call`,
 * `resources/read` and `prompts/get` is decided by the {@link PolicyEngine}
 * before its handler runs (a legacy `resources/subscribe`, and each URI of a modern
 * `subscriptions/listen`, as a read of the URI, audited under its own method), list results are filtered for the caller, and each
 * decision and each completed call is written to the audit trail.
 *
 * ```ts
 * server.guard = policyGuard({ engine, server: "demo", audit, approvals })
 * ```
 *
 * - deny → JSON-RPC error -32003 naming the deciding policies (the handler
 *   never runs, unknown and forbidden tools look alike);
 * - rate limited → -32004 with `data.retryAfterMs` / `retryAfterSeconds`;
 * - approve → the call waits in the `awaitingApproval` state of its
 *   `policedRequest` chart (Approvals.ts) while the approver decides; the
 *   caller gets progress meanwhile (if it sent a progressToken) so its own
 *   timeout, when reset on progress, does not fire. The default approver is
 *   the calling client: elicitation in a legacy session, `input_required` in
 *   the modern era (the answer comes back on the retry).
 */
import { ErrorCode, McpError } from "../protocol/errors.ts"
import { type ApprovalAnswer, type PendingApproval } from "../policy/ApprovalStore.ts"
import { ApprovalDeferred, type Approvals, type Approver } from "../policy/Approvals.ts"
import { argsDigest, type AuditLog } from "../policy/AuditLog.ts"
import type { ResourceKind } from "../policy/CedarPolicySet.ts"
import { ANONYMOUS } from "../policy/Identity.ts"
import type { Decision, PolicyEngine, SessionFacts } from "../policy/PolicyEngine.ts"
import type { Admission, CallGuard, GuardedCall, GuardedKind, ListKind } from "./CallGuard.ts"
import { InputRequiredSignal } from "./InputRequiredSignal.ts"
import type { RequestContext } from "./RequestContext.ts"

/** The engine that decides, the server name resources are qualified with, and where decisions go (audit) and approvals are asked (approvals, approver). */
export interface PolicyGuardOptions {
  readonly engine: PolicyEngine
  /** The server's name in resource ids (`Tool::"<server>/<name>"`). */
  readonly server: string
  /**
   * For a server that fronts others (the host's gateway): the upstream server
   * and original name behind a served name, so policies name the real server.
   * Undefined (a name nobody serves) falls back to `server`.
   */
  readonly route?: (kind: GuardedKind, name: string) => { readonly server: string; readonly name: string } | undefined
  readonly audit?: AuditLog
  /** Write argument values into the audit trail (default: only their digest). */
  readonly auditArguments?: boolean
  /** Needed for `approve` decisions; without it they are refused. */
  readonly approvals?: Approvals
  /** Who approves. Default "client": the calling client (elicitation / input_required). */
  readonly approver?: "client" | Approver
  /** Time of audit records and approval checks. Default: the approvals' clock (deadlines are stamped on it), else the engine's. */
  readonly now?: () => number
}

const KIND: Record<GuardedKind, ResourceKind> = { tool: "Tool", resource: "Resource", prompt: "Prompt" }
const LIST: Record<ListKind, { readonly method: string; readonly kind: ResourceKind } | undefined> = {
  tools: { method: "tools/call", kind: "Tool" },
  prompts: { method: "prompts/get", kind: "Prompt" },
  resources: { method: "resources/read", kind: "Resource" },
  // Templates name URI patterns, not resources: reads of the URIs they produce are checked one by one.
  resourceTemplates: undefined
}

const factsOf = (ctx: RequestContext): SessionFacts => ({ id: ctx.sessionId, era: ctx.era, transport: ctx.transport, protocolVersion: ctx.protocolVersion })

/** The calling client approves, through its user: elicitation (legacy) or an `input_required` elicitation (modern). */
export const clientApprover = (ctx: RequestContext, now: () => number): Approver => ({
  name: "client",
  ask: (p: PendingApproval, signal: AbortSignal) =>
    ctx.elicit({
      message: `Approve ${p.method} ${p.target} for ${p.principal}? (${p.reason})`,
      requestedSchema: { type: "object", properties: { approve: { type: "boolean", title: "Approve this call" } }, required: ["approve"] }
    }, { signal, timeoutMs: Math.max(1, p.deadline - now() + 1_000) }).then(
      (r): ApprovalAnswer => {
        const content = r.content as { approve?: unknown } | undefined
        const who = ctx.clientInfo?.name ?? "client"
        return { approved: r.action === "accept" && content?.approve === true, by: `${p.principal} via ${who}`, ...(r.action === "accept" ? {} : { reason: `the user chose ${String(r.action)}` }) }
      },
      (e: unknown) => {
        // Modern era: the question goes out as input_required; the answer arrives with the retry.
        if (e instanceof InputRequiredSignal || (e instanceof McpError && e.code === ErrorCode.MissingRequiredClientCapability)) throw new ApprovalDeferred(e)
        throw e
      }
    )
})

/**
 * The {@link CallGuard} that enforces a {@link PolicyEngine} on one server:
 * decides each call before its handler (deny → -32003, rate limited → -32004,
 * approve → waits for the approver), hides what the caller may not use from
 * lists, and audits every decision and completed call.
 */
export const policyGuard = (options: PolicyGuardOptions): CallGuard => {
  const { engine, server, audit, approvals } = options
  const now = options.now ?? approvals?.now ?? engine.now
  const withArgs = options.auditArguments === true
  const route = options.route
  const targetOf = (kind: GuardedKind, name: string) => (route === undefined ? undefined : route(kind, name)) ?? { server, name }

  type Base = ReturnType<typeof makeBase>
  // The fields every record of one call shares, computed once per call (the argument digest is a SHA-256).
  const makeBase = (call: GuardedCall, target: { readonly server: string; readonly name: string }, ctx: RequestContext) => ({
    principal: (ctx.identity ?? ANONYMOUS).id,
    session: ctx.sessionId ?? null,
    era: ctx.era,
    transport: ctx.transport,
    server: target.server,
    method: call.method,
    name: target.name,
    argsDigest: argsDigest(call.args),
    ...(withArgs ? { args: call.args ?? {} } : {})
  })

  const admission = (b: Base | undefined, decision: Decision, approval: { by: string; at: string } | undefined, complete?: (ok: boolean) => void): Admission | undefined => {
    if (audit === undefined && complete === undefined) return undefined
    const started = now()
    return {
      done: (o) => {
        complete?.(o.outcome === "ok" || o.outcome === "toolError")
        if (b === undefined) return
        audit!.append({
          type: "call",
          ...b,
          decision: "allow",
          policies: decision.policies,
          ...(approval === undefined ? {} : { approval }),
          outcome: o.outcome,
          ...(o.error === undefined ? {} : { error: o.error }),
          durationMs: now() - started
        })
      }
    }
  }

  const record = (b: Base | undefined, ctx: RequestContext, decision: string, policies: ReadonlyArray<string>, reason: string, extra: Record<string, unknown> = {}) => {
    if (b === undefined) return
    const identity = ctx.identity ?? ANONYMOUS
    audit!.append({ type: "decision", ...b, identity: { groups: identity.groups, scopes: identity.scopes }, decision, policies, reason, ...extra })
  }

  const approve = (b: Base | undefined, call: GuardedCall, target: { readonly server: string; readonly name: string }, ctx: RequestContext, decision: Decision): Admission | undefined | Promise<Admission | undefined> => {
    const identity = ctx.identity ?? ANONYMOUS
    const digest = b?.argsDigest ?? argsDigest(call.args)
    // Approved while its caller was gone (a restart): the same call takes the grant.
    const grant = approvals?.store.takeGrant(identity.id, target.server, call.method, target.name, digest, now())
    if (grant !== undefined) {
      const approval = { id: grant.id, by: "earlier approval", at: new Date(now()).toISOString() }
      record(b, ctx, "allow", decision.policies, "approved earlier", { approval })
      return admission(b, decision, approval)
    }
    if (approvals === undefined) {
      engine.refund(decision)
      record(b, ctx, "deny", decision.policies, "needs approval but no approver is configured")
      throw new McpError(ErrorCode.PolicyDenied, `Forbidden: ${decision.reason}, and no approver is configured`, { policies: decision.policies })
    }
    const approver = options.approver === undefined || options.approver === "client" ? clientApprover(ctx, now) : options.approver
    let step = 0
    const ticket = approvals.request({
      pending: {
        principal: identity.id,
        sessionId: ctx.sessionId,
        server: target.server,
        method: call.method,
        target: target.name,
        argsDigest: digest,
        ...(withArgs ? { args: call.args ?? {} } : {}),
        policies: decision.policies,
        reason: decision.reason
      },
      approvalTimeoutMs: decision.approvalTimeoutMs ?? 5 * 60_000,
      approver,
      keepAlive: () => ctx.progress(++step, undefined, "waiting for approval"),
      signal: ctx.signal
    })
    return ticket.result.then(
      (r) => {
        if (!r.approved) {
          engine.refund(decision)
          record(b, ctx, "deny", decision.policies, r.reason, { approval: { id: r.id, outcome: r.outcome, by: r.by, at: new Date(now()).toISOString() } })
          throw new McpError(ErrorCode.PolicyDenied, `Forbidden: approval ${r.outcome} (${r.reason})`, { policies: decision.policies, approval: r.outcome })
        }
        const approval = { id: r.id, by: r.by, at: new Date(r.at).toISOString() }
        record(b, ctx, "allow", decision.policies, `approved by ${r.by}`, { approval })
        return admission(b, decision, approval, ticket.complete)
      },
      (e: unknown) => {
        engine.refund(decision)
        throw e
      }
    )
  }

  return {
    admit(call, ctx) {
      const identity = ctx.identity ?? ANONYMOUS
      const target = targetOf(call.kind, call.name)
      // A subscription is a standing read: policies (and their rate limits and approvals) decide it as
      // `resources/read` of the URI, so no policy needs a rule of its own for it; the audit says subscribe.
      // A modern listen's URIs are subscriptions too (audited as `subscriptions/listen`).
      const action = call.method === "resources/subscribe" || call.method === "subscriptions/listen" ? "resources/read" : call.method
      const decision = engine.decide({ identity, session: factsOf(ctx), method: action, target: { kind: KIND[call.kind], server: target.server, name: target.name }, args: call.args })
      const b = audit === undefined ? undefined : makeBase(call, target, ctx)
      switch (decision.kind) {
        case "allow":
          record(b, ctx, "allow", decision.policies, decision.reason)
          return admission(b, decision, undefined)
        case "deny":
          record(b, ctx, "deny", decision.policies, decision.reason)
          throw new McpError(ErrorCode.PolicyDenied, `Forbidden: ${decision.reason}`, { policies: decision.policies })
        case "rateLimited": {
          const retryAfterMs = decision.retryAfterMs ?? 1_000
          record(b, ctx, "rateLimited", decision.policies, decision.reason, { retryAfterMs })
          throw new McpError(ErrorCode.RateLimited, `Rate limited: ${decision.reason}`, {
            policies: decision.policies,
            retryAfterMs,
            retryAfterSeconds: Math.ceil(retryAfterMs / 1000)
          })
        }
        case "approve":
          record(b, ctx, "approve", decision.policies, decision.reason)
          return approve(b, call, target, ctx, decision)
      }
    },
    filter(kind, items, nameOf, ctx) {
      const list = LIST[kind]
      if (list === undefined) return items
      const identity = ctx.identity ?? ANONYMOUS
      const session = factsOf(ctx)
      const kind1: GuardedKind = list.kind === "Tool" ? "tool" : list.kind === "Prompt" ? "prompt" : "resource"
      return items.filter((item) => {
        const target = targetOf(kind1, nameOf(item))
        return engine.visible(identity, session, list.method, { kind: list.kind, server: target.server, name: target.name })
      })
    }
  }
}
