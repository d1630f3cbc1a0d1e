/**
 * The policy decision point: (principal, session facts, method, target,
 * arguments) → allow, deny, require approval or rate-limited, each with the
 * ids of the policies that decided it. No I/O on the decision path and no
 * knowledge of sessions or transports: a single `McpServer` plugs it in as
 * middleware (src/server/policyGuard.ts), the host's gateway can call the same
 * `decide`/`visible` for each upstream server.
 *
 * The policy file reloads on change (`watch`); a new text that does not parse
 * is refused (`onReload` gets the error, naming line and reason) and the old
 * policy stays. Live sessions keep running: the next decision uses the new set.
 */
import { type FSWatcher, watch as fsWatch } from "node:fs"
import { basename, dirname } from "node:path"
import type { CedarTarget } from "./CedarPolicySet.ts"
import type { Identity } from "./Identity.ts"
import { Policy, type RateLimitSpec } from "./Policy.ts"
import { RateLimiter } from "./RateLimiter.ts"
import { type Clock, systemClock, unrefTimer } from "../protocol/clock.ts"

/** The session a request arrived on, as policies see it (`context.session`). */
export interface SessionFacts {
  /** Legacy session id; undefined for modern (stateless) requests. */
  readonly id: string | undefined
  readonly era: "legacy" | "modern"
  readonly transport: string
  readonly protocolVersion: string | undefined
}

/** One call to decide: who, on which session, which method on which target, with which arguments. */
export interface DecisionRequest {
  readonly identity: Identity
  readonly session: SessionFacts
  /** The MCP method: `tools/call`, `resources/read`, `prompts/get`. */
  readonly method: string
  readonly target: CedarTarget
  readonly args?: { readonly [key: string]: unknown } | undefined
}

export type DecisionKind = "allow" | "deny" | "approve" | "rateLimited"

/** The engine's verdict with the deciding policies and a reason, for the caller and the audit trail. */
export interface Decision {
  readonly kind: DecisionKind
  /** The deciding policies (for a default deny: none). */
  readonly policies: ReadonlyArray<string>
  /** One sentence for the caller and the audit trail. */
  readonly reason: string
  /** rateLimited: when to try again. */
  readonly retryAfterMs?: number
  /** approve: how long the approval may take. */
  readonly approvalTimeoutMs?: number
  /** Tokens taken for this call (given back if an approval is refused). */
  readonly taken?: ReadonlyArray<{ readonly key: string; readonly limit: number }>
}

export interface ReloadResult {
  readonly ok: boolean
  readonly error?: Error
}

/** Time source (virtual in tests), a shared rate limiter, and a hook that hears about reloads. */
export interface PolicyEngineOptions {
  /** Time source for rate limits and `context.time` (tests: virtual). */
  readonly now?: () => number
  readonly rateLimiter?: RateLimiter
  /** Called after each reload attempt (from `watch` or `reload`). */
  readonly onReload?: (result: ReloadResult) => void
  /** The clock the reload debounce runs on (the runtime's one clock). Default: the system clock. */
  readonly clock?: Clock
  /** How long a burst of file events must settle before `watch` reloads. Default 50 ms. */
  readonly reloadDebounceMs?: number
}

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

const targetLabel = (t: CedarTarget): string => (t.kind === "Server" ? t.server : `${t.server}/${t.name}`)

/**
 * The policy decision point: decides calls and list visibility from a
 * {@link Policy}, with rate limits, and reloads its file on change without
 * dropping sessions (a policy that fails to parse is refused; the old one stays).
 */
export class PolicyEngine {
  private current: Policy
  private readonly path: string | undefined
  /** The time on the engine's clock: rate windows and `context.time` (the policy guard's fallback too). */
  readonly now: () => number
  readonly limiter: RateLimiter
  private readonly onReload: ((r: ReloadResult) => void) | undefined
  private watcher: FSWatcher | undefined
  private reloadTimer: unknown
  private readonly clock: Clock
  private readonly reloadDebounceMs: number

  constructor(policy: Policy, options: PolicyEngineOptions & { readonly path?: string } = {}) {
    this.current = policy
    this.path = options.path
    this.clock = options.clock ?? systemClock
    const clock = this.clock
    this.now = options.now ?? (() => clock.now())
    this.reloadDebounceMs = options.reloadDebounceMs ?? 50
    this.limiter = options.rateLimiter ?? new RateLimiter({ now: this.now })
    this.onReload = options.onReload
  }

  /** Load a `.cedar` file or a YAML/JSON form (throws a PolicyParseError when it does not parse). */
  static fromFile(path: string, options: PolicyEngineOptions = {}): PolicyEngine {
    return new PolicyEngine(Policy.load(path), { ...options, path })
  }

  get policy(): Policy {
    return this.current
  }

  /** Swap in a new policy (already parsed). */
  use(policy: Policy): void {
    this.current = policy
  }

  /** Re-read the file; a policy that fails to parse is refused and the old one stays. */
  reload(): ReloadResult {
    if (this.path === undefined) return { ok: false, error: new Error("this policy was not loaded from a file") }
    let result: ReloadResult
    try {
      this.current = Policy.load(this.path)
      result = { ok: true }
    } catch (e) {
      result = { ok: false, error: e instanceof Error ? e : new Error(String(e)) }
    }
    this.onReload?.(result)
    return result
  }

  /** Reload when the file changes (its directory is watched, so editors that replace the file are seen too). */
  watch(): this {
    if (this.path === undefined || this.watcher !== undefined) return this
    const base = basename(this.path)
    this.watcher = fsWatch(dirname(this.path), { persistent: false }, (_event, name) => {
      if (name !== null && name !== base) return
      // Writes come in bursts (truncate, write, rename): reload once they settle.
      if (this.reloadTimer !== undefined) this.clock.clearTimeout(this.reloadTimer)
      this.reloadTimer = unrefTimer(this.clock.setTimeout(() => {
        this.reloadTimer = undefined
        this.reload()
      }, this.reloadDebounceMs))
    })
    return this
  }

  close(): void {
    this.watcher?.close()
    this.watcher = undefined
    if (this.reloadTimer !== undefined) this.clock.clearTimeout(this.reloadTimer)
    this.reloadTimer = undefined
  }

  private context(req: { readonly session: SessionFacts; readonly args?: unknown }, policy: Policy, cond: Record<string, boolean> | undefined, listing: boolean): Record<string, unknown> {
    const ctx: Record<string, unknown> = {
      session: { id: req.session.id ?? "", era: req.session.era, transport: req.session.transport, protocolVersion: req.session.protocolVersion ?? "" },
      listing
    }
    if (req.args !== undefined) ctx.args = req.args
    if (cond !== undefined) ctx.cond = cond
    const keys = policy.cedar.contextKeys
    if (keys === "all" || keys.has("time")) {
      const d = new Date(this.now())
      ctx.time = { epochSeconds: Math.floor(d.getTime() / 1000), hour: d.getUTCHours(), weekday: WEEKDAYS[d.getUTCDay()] }
    }
    return ctx
  }

  /** What the policy says, without rate limits (shadow mode replays with this). */
  evaluate(req: DecisionRequest): Decision {
    return this.decideWith(req, false)
  }

  /** Decide one call. Rate-limit tokens are taken for allowed (and to-be-approved) calls. */
  decide(req: DecisionRequest): Decision {
    return this.decideWith(req, true)
  }

  private decideWith(req: DecisionRequest, limit: boolean): Decision {
    const policy = this.current
    const cond = policy.conditions(req.target, req.args)
    const d = policy.authorize(req.identity, req.method, req.target, cond, () => this.context(req, policy, cond, false))
    if (d.decision === "deny") {
      const forbids = d.policies
      const reason = forbids.length > 0
        ? `${req.method} of ${targetLabel(req.target)} is forbidden for ${req.identity.id} by ${forbids.join(", ")}`
        : `no policy permits ${req.identity.id} to ${req.method} ${targetLabel(req.target)} (default deny)`
      return { kind: "deny", policies: forbids, reason }
    }
    const approvals = d.policies.filter((id) => policy.isApproval(id))
    const limits = limit ? policy.rateLimits(req.target, d.policies) : []
    let taken: Array<{ key: string; limit: number }> | undefined
    if (limits.length > 0) {
      for (const l of limits) {
        const key = this.limitKey(l, req)
        const v = this.limiter.take(key, l.limit, l.windowMs)
        if (!v.ok) {
          for (const t of taken ?? []) this.limiter.refund(t.key, t.limit)
          const secs = Math.ceil(v.retryAfterMs / 1000)
          return {
            kind: "rateLimited",
            policies: [l.id],
            retryAfterMs: v.retryAfterMs,
            reason: `rate limit ${l.id} (${l.limit} per ${l.windowMs / 1000}s per ${l.per}) reached for ${req.method} of ${targetLabel(req.target)}; retry after ${secs}s`
          }
        }
        ;(taken ??= []).push({ key, limit: l.limit })
      }
    }
    if (approvals.length > 0) {
      return {
        kind: "approve",
        policies: approvals,
        approvalTimeoutMs: policy.approvalTimeoutMs(approvals),
        reason: `${req.method} of ${targetLabel(req.target)} needs approval (${approvals.join(", ")})`,
        ...(taken === undefined ? {} : { taken })
      }
    }
    return { kind: "allow", policies: d.policies, reason: `allowed by ${d.policies.join(", ")}`, ...(taken === undefined ? {} : { taken }) }
  }

  /** Give back the rate-limit tokens of a call that did not run (approval refused or timed out). */
  refund(decision: Decision): void {
    for (const t of decision.taken ?? []) this.limiter.refund(t.key, t.limit)
  }

  /**
   * May this principal see `target` in a list? Hidden when no arguments could
   * make a call allowed (deny and hide rules; no permit for them).
   */
  visible(identity: Identity, session: SessionFacts, method: string, target: CedarTarget): boolean {
    const policy = this.current
    const cond = policy.listingConditions(target)
    const d = policy.authorize(identity, method, target, cond, () => this.context({ session }, policy, cond, true))
    return d.decision === "allow"
  }

  /** Why `identity` may not use `server` at all (no `connect` grant), or undefined. */
  grant(identity: Identity, server: string): string | undefined {
    const session: SessionFacts = { id: undefined, era: "legacy", transport: "http", protocolVersion: undefined }
    const policy = this.current
    const d = policy.authorize(identity, "connect", { kind: "Server", server, name: "" }, undefined, () => this.context({ session }, policy, undefined, false))
    if (d.decision === "allow") return undefined
    return d.policies.length > 0
      ? `${identity.id} may not use server ${server} (${d.policies.join(", ")})`
      : `${identity.id} has no grant for server ${server}`
  }

  private limitKey(l: RateLimitSpec, req: DecisionRequest): string {
    const t = `${req.target.kind}:${targetLabel(req.target)}`
    switch (l.per) {
      case "identity":
        return `${l.id}\u0000i\u0000${req.identity.id}\u0000${t}`
      case "session":
        return `${l.id}\u0000s\u0000${req.session.id ?? req.identity.id}\u0000${t}`
      case "global":
        return `${l.id}\u0000g\u0000${t}`
    }
  }
}
