/**
 * `mcp-actors audit verify|query`, `mcp-actors policy check|test` (shadow
 * mode) and `mcp-actors approvals list|approve|deny`.
 */
import { existsSync } from "node:fs"
import { answerApproval, ApprovalStore } from "../policy/ApprovalStore.ts"
import { type AuditQuery, loadAuditKey, queryAudit, rotatedFiles, verifyAudit } from "../policy/AuditLog.ts"
import type { ResourceKind } from "../policy/CedarPolicySet.ts"
import type { Identity } from "../policy/Identity.ts"
import { Policy } from "../policy/Policy.ts"
import { PolicyEngine } from "../policy/PolicyEngine.ts"

const out = (s: string) => process.stdout.write(`${s}\n`)

/** FILE plus its rotated predecessors (oldest first) when `all`. */
const withRotated = (files: ReadonlyArray<string>, all: boolean): Array<string> =>
  all ? files.flatMap((f) => [...rotatedFiles(f), f]) : [...files]

export const auditVerify = (files: ReadonlyArray<string>, all: boolean, keyFile?: string, ignoreSeal = false): number => {
  const list = withRotated(files, all)
  for (const f of list) if (!existsSync(f)) throw new Error(`${f}: no such file`)
  const r = verifyAudit(list, { ...(keyFile === undefined ? {} : { key: loadAuditKey(keyFile) }), ...(ignoreSeal ? { seal: false as const } : {}) })
  if (r.ok) {
    out(`ok: ${r.records} records in ${r.files} file${r.files === 1 ? "" : "s"}, chain intact${keyFile === undefined ? "" : " (HMAC-SHA-256, keyed)"}`)
    return 0
  }
  out(`BROKEN: ${r.file}:${r.line}${r.seq === undefined ? "" : ` (seq ${r.seq})`}: ${r.reason}`)
  return 1
}

const time = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  if (Number.isNaN(t)) throw new Error(`--${flag} must be an ISO time or epoch milliseconds, got "${v}"`)
  return t
}

export const auditQuery = (files: ReadonlyArray<string>, v: Record<string, string | boolean | undefined>): number => {
  const q: AuditQuery = {
    ...(typeof v.principal === "string" ? { principal: v.principal } : {}),
    ...(typeof v.session === "string" ? { session: v.session } : {}),
    ...(typeof v.tool === "string" ? { tool: v.tool } : {}),
    ...(v.type === "decision" || v.type === "call" ? { type: v.type } : {}),
    ...(typeof v.since === "string" ? { since: time(v.since, "since")! } : {}),
    ...(typeof v.until === "string" ? { until: time(v.until, "until")! } : {})
  }
  for (const r of queryAudit(withRotated(files, v.all === true), q)) out(JSON.stringify(r))
  return 0
}

export const policyCheck = (file: string): number => {
  const p = Policy.load(file)
  out(`ok: ${file} (${p.format}), ${p.cedar.policies.size} Cedar policies${p.cedar.hasPermit ? "" : " — no permit: every call is denied"}`)
  if (p.format === "form") out(p.cedarText)
  return 0
}

const KIND: Record<string, ResourceKind> = { "tools/call": "Tool", "resources/read": "Resource", "prompts/get": "Prompt" }

/**
 * Shadow mode: replay the requests recorded in an audit trail against another
 * policy and report each decision that would change. Rate limits are not
 * replayed (a recorded `rateLimited` counts as the policy's allow); argument
 * conditions see the arguments only when the trail recorded their values.
 */
export const policyTest = (policyFile: string, auditFiles: ReadonlyArray<string>): number => {
  const engine = new PolicyEngine(Policy.load(policyFile))
  let replayed = 0
  let changed = 0
  let noArgs = 0
  for (const r of queryAudit(auditFiles, { type: "decision" })) {
    if (r.approval !== undefined) continue // the approval's outcome, not a policy decision
    const method = String(r.method)
    const kind = KIND[method]
    if (kind === undefined) continue
    const recorded = r.identity as { groups?: Array<string>; scopes?: Array<string> } | undefined
    const identity: Identity = {
      id: String(r.principal),
      subject: String(r.principal),
      groups: recorded?.groups ?? [],
      scopes: recorded?.scopes ?? [],
      claims: { sub: String(r.principal) },
      via: "jwt"
    }
    const args = r.args as Record<string, unknown> | undefined
    if (args === undefined) noArgs++
    const d = engine.evaluate({
      identity,
      session: { id: typeof r.session === "string" ? r.session : undefined, era: r.era === "modern" ? "modern" : "legacy", transport: String(r.transport), protocolVersion: undefined },
      method,
      target: { kind, server: String(r.server), name: String(r.name) },
      args
    })
    const before = r.decision === "rateLimited" ? "allow" : String(r.decision)
    replayed++
    if (d.kind !== before) {
      changed++
      const was = Array.isArray(r.policies) && r.policies.length > 0 ? ` (${(r.policies as Array<string>).join(", ")})` : before === "deny" ? " (default deny)" : ""
      const now = d.policies.length > 0 ? ` (${d.policies.join(", ")})` : d.kind === "deny" ? " (default deny)" : ""
      out(`seq ${String(r.seq)} ${String(r.time)} ${identity.id} ${method} ${String(r.server)}/${String(r.name)}: ${before}${was} → ${d.kind}${now}`)
    }
  }
  out(`${replayed} requests replayed against ${policyFile}: ${replayed - changed} unchanged, ${changed} would change${noArgs > 0 ? ` (${noArgs} without recorded argument values: argument conditions saw none)` : ""}`)
  return 0
}

export const approvalsCommand = (action: string | undefined, id: string | undefined, v: Record<string, string | boolean | undefined>): number => {
  const store = v.store
  if (typeof store !== "string") throw new Error("--store FILE is required (the gateway's --approvals file)")
  if (action === undefined || action === "list") {
    const pending = ApprovalStore.open(store).pending()
    if (pending.length === 0) out("no pending approvals")
    for (const p of pending) {
      out(`${p.id}  ${p.principal}  ${p.method} ${p.server}/${p.target}  (${p.policies.join(", ")})  deadline ${new Date(p.deadline).toISOString()}`)
    }
    return 0
  }
  if (action !== "approve" && action !== "deny") throw new Error(`unknown approvals action "${action}" (list, approve, deny)`)
  if (id === undefined) throw new Error(`approvals ${action} needs an approval id`)
  const by = typeof v.by === "string" ? v.by : `${process.env.USER ?? "operator"} (cli)`
  const ok = answerApproval(store, id, { approved: action === "approve", by, ...(typeof v.reason === "string" ? { reason: v.reason } : {}) })
  out(ok ? `${action === "approve" ? "approved" : "denied"} ${id}` : `no pending approval ${id}`)
  return ok ? 0 : 1
}
