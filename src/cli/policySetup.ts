/**
 * `serve --policy FILE --audit FILE …`: the policy gateway in front of the
 * served McpServer — engine (reloading on change), audit trail, approvals and
 * the bearer-auth hook — built from command-line options.
 */
import { ApprovalStore } from "../policy/ApprovalStore.ts"
import { Approvals, type Approver, storeApprover, webhookApprover } from "../policy/Approvals.ts"
import { loadApiKeyTable } from "../policy/ApiKeyTable.ts"
import { AuditLog } from "../policy/AuditLog.ts"
import { makeAuthenticator } from "../policy/Authenticator.ts"
import { makeJwtVerifier } from "../policy/JwtVerifier.ts"
import { PolicyEngine } from "../policy/PolicyEngine.ts"
import { bearerAuth } from "../server/auth/bearerAuth.ts"
import type { Authenticate } from "../server/http/HttpServer.ts"
import type { McpServer } from "../server/McpServer.ts"
import { policyGuard } from "../server/policyGuard.ts"

export interface PolicyCliOptions {
  readonly policy?: string
  readonly audit?: string
  readonly auditArguments?: boolean
  readonly auditMaxBytes?: number
  readonly approvals?: string
  /** "client" (default), "cli", or a webhook URL. */
  readonly approver?: string
  readonly jwks?: string
  readonly issuer?: string
  readonly audience?: string
  readonly apiKeys?: string
}

export interface PolicySetup {
  readonly authenticate: Authenticate | undefined
  close(): void
}

export const setupPolicy = (server: McpServer, o: PolicyCliOptions, log: (line: string) => void): PolicySetup => {
  const jwtWanted = o.jwks !== undefined || o.issuer !== undefined || o.audience !== undefined
  if (jwtWanted && (o.jwks === undefined || o.issuer === undefined || o.audience === undefined)) {
    throw new Error("JWT verification needs --jwks, --issuer and --audience together")
  }
  const closers: Array<() => void> = []
  let engine: PolicyEngine | undefined
  if (o.policy !== undefined) {
    engine = PolicyEngine.fromFile(o.policy, {
      onReload: (r) => log(r.ok ? `policy ${o.policy} reloaded` : `policy ${o.policy} refused, the previous one stays: ${r.error?.message}`)
    }).watch()
    closers.push(() => engine!.close())
    const audit = o.audit === undefined ? undefined : AuditLog.open(o.audit, o.auditMaxBytes === undefined ? {} : { maxBytes: o.auditMaxBytes })
    if (audit !== undefined) closers.push(() => audit.close())
    const approvals = new Approvals({ store: ApprovalStore.open(o.approvals) })
    closers.push(() => approvals.close())
    const approver: Approver | "client" = o.approver === undefined || o.approver === "client"
      ? "client"
      : o.approver === "cli"
      ? storeApprover
      : webhookApprover(o.approver)
    if (approver === storeApprover && o.approvals === undefined) throw new Error("--approver cli needs --approvals FILE (the store the CLI answers in)")
    server.guard = policyGuard({ engine, server: server.info.name, approvals, approver, ...(audit === undefined ? {} : { audit }), ...(o.auditArguments === true ? { auditArguments: true } : {}) })
    log(`policy ${o.policy} (${engine.policy.format}, ${engine.policy.cedar.policies.size} Cedar policies)${o.audit === undefined ? "" : `, audit ${o.audit}`}`)
  } else if (o.audit !== undefined) throw new Error("--audit needs --policy")
  let authenticate: Authenticate | undefined
  if (jwtWanted || o.apiKeys !== undefined) {
    const jwt = jwtWanted
      ? makeJwtVerifier({ ...(/^https?:\/\//.test(o.jwks!) ? { jwksUrl: o.jwks! } : { jwksFile: o.jwks! }), issuer: o.issuer!, audience: o.audience! })
      : undefined
    const apiKeys = o.apiKeys === undefined ? undefined : loadApiKeyTable(o.apiKeys)
    const e = engine
    authenticate = bearerAuth({
      authenticator: makeAuthenticator({ ...(jwt === undefined ? {} : { jwt }), ...(apiKeys === undefined ? {} : { apiKeys }) }),
      ...(e === undefined ? {} : { grant: (identity) => e.grant(identity, server.info.name) })
    })
  }
  return { authenticate, close: () => closers.reverse().forEach((c) => c()) }
}
