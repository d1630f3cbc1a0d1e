/**
 * `serve --policy FILE --audit FILE …`: the policy gateway in front of the
 * served McpServer — engine (reloading on change), audit trail, approvals and
 * the bearer-auth hook — built from command-line options.
 */
import type { InspectorApprover } from "../inspect/inspectorApprover.ts"
import { ApprovalStore } from "../policy/ApprovalStore.ts"
import { Approvals, type Approver, storeApprover, webhookApprover } from "../policy/Approvals.ts"
import { loadApiKeyTable } from "../policy/ApiKeyTable.ts"
import { AuditLog, loadAuditKey } from "../policy/AuditLog.ts"
import { makeAuthenticator } from "../policy/Authenticator.ts"
import { makeJwtVerifier } from "../policy/JwtVerifier.ts"
import { PolicyEngine } from "../policy/PolicyEngine.ts"
import { bearerAuth } from "../server/auth/bearerAuth.ts"
import type { Authenticate } from "../server/http/HttpServer.ts"
import type { Identity } from "../policy/Identity.ts"
import type { CallGuard } from "../server/CallGuard.ts"
import type { McpServer } from "../server/McpServer.ts"
import { policyGuard, type PolicyGuardOptions } from "../server/policyGuard.ts"

export interface PolicyCliOptions {
  readonly policy?: string
  readonly audit?: string
  readonly auditArguments?: boolean
  readonly auditMaxBytes?: number
  /** A key file: chain the trail with HMAC-SHA-256 under it (`--audit-key`). */
  readonly auditKey?: string
  readonly approvals?: string
  /** "client" (default), "cli", "inspector" (with `inspectorApprover`), or a webhook URL. */
  readonly approver?: string
  /** The inspector page's approver for `approver: "inspector"`: the same object goes to the inspector (`--inspect`). */
  readonly inspectorApprover?: InspectorApprover
  readonly jwks?: string
  readonly issuer?: string
  readonly audience?: string
  readonly apiKeys?: string
}

export interface PolicySetup {
  readonly authenticate: Authenticate | undefined
  close(): void
}

/** The policy pieces built from the options, for one server or many (the host's gateway). */
export interface PolicyParts {
  /** The guard for one served server (undefined without --policy); `route` maps served names to their upstream (host aggregate). */
  guard(server: string, route?: PolicyGuardOptions["route"]): CallGuard | undefined
  /** Bearer auth (undefined without --jwks/--api-keys); `grant` says why an identity may not use the endpoint of `req`. */
  authenticate(grant: (engine: PolicyEngine, identity: Identity) => string | undefined): Authenticate | undefined
  readonly engine: PolicyEngine | undefined
  close(): void
}

const inspectorApproverOf = (o: PolicyCliOptions): Approver => {
  if (o.inspectorApprover === undefined) throw new Error("--approver inspector needs --inspect (the page answers the approvals)")
  return o.inspectorApprover
}

export const buildPolicy = (o: PolicyCliOptions, log: (line: string) => void): PolicyParts => {
  const jwtWanted = o.jwks !== undefined || o.issuer !== undefined || o.audience !== undefined
  if (jwtWanted && (o.jwks === undefined || o.issuer === undefined || o.audience === undefined)) {
    throw new Error("JWT verification needs --jwks, --issuer and --audience together")
  }
  const closers: Array<() => void> = []
  const close = () => closers.reverse().forEach((c) => c())
  let engine: PolicyEngine | undefined
  let guard: PolicyParts["guard"] = () => undefined
  try {
    if (o.policy !== undefined) {
      const e = engine = PolicyEngine.fromFile(o.policy, {
        onReload: (r) => log(r.ok ? `policy ${o.policy} reloaded` : `policy ${o.policy} refused, the previous one stays: ${r.error?.message}`)
      }).watch()
      closers.push(() => e.close())
      const audit = o.audit === undefined ? undefined : AuditLog.open(o.audit, {
        ...(o.auditMaxBytes === undefined ? {} : { maxBytes: o.auditMaxBytes }),
        ...(o.auditKey === undefined ? {} : { key: loadAuditKey(o.auditKey) })
      })
      if (audit !== undefined) closers.push(() => audit.close())
      // Pending approvals must survive a restart: with an audit trail on disk they are kept next to it by default.
      const approvalsFile = o.approvals ?? (o.audit === undefined ? undefined : `${o.audit}.approvals.jsonl`)
      const approvals = new Approvals({ store: ApprovalStore.open(approvalsFile) })
      closers.push(() => approvals.close())
      const approver: Approver | "client" = o.approver === undefined || o.approver === "client"
        ? "client"
        : o.approver === "cli"
        ? storeApprover
        : o.approver === "inspector"
        ? inspectorApproverOf(o)
        : webhookApprover(o.approver)
      if (approver === storeApprover && approvalsFile === undefined) throw new Error("--approver cli needs --approvals FILE or --audit FILE (the store the CLI answers in)")
      guard = (server, route) =>
        policyGuard({
          engine: e,
          server,
          approvals,
          approver,
          ...(route === undefined ? {} : { route }),
          ...(audit === undefined ? {} : { audit }),
          ...(o.auditArguments === true ? { auditArguments: true } : {})
        })
      log(`policy ${o.policy} (${e.policy.format}, ${e.policy.cedar.policies.size} Cedar policies)${o.audit === undefined ? "" : `, audit ${o.audit}${o.auditKey === undefined ? "" : " (keyed)"}`}${approvalsFile === undefined ? "" : `, approvals ${approvalsFile}`}`)
    } else if (o.audit !== undefined) throw new Error("--audit needs --policy")
  } catch (e) {
    close()
    throw e
  }
  const authenticator = jwtWanted || o.apiKeys !== undefined
    ? makeAuthenticator({
      ...(jwtWanted ? { jwt: makeJwtVerifier({ ...(/^https?:\/\//.test(o.jwks!) ? { jwksUrl: o.jwks! } : { jwksFile: o.jwks! }), issuer: o.issuer!, audience: o.audience! }) } : {}),
      ...(o.apiKeys === undefined ? {} : { apiKeys: loadApiKeyTable(o.apiKeys) })
    })
    : undefined
  const e = engine
  return {
    engine,
    guard: (server, route) => guard(server, route),
    authenticate: (grant) =>
      authenticator === undefined ? undefined : bearerAuth({ authenticator, ...(e === undefined ? {} : { grant: (identity) => grant(e, identity) }) }),
    close
  }
}

export const setupPolicy = (server: McpServer, o: PolicyCliOptions, log: (line: string) => void): PolicySetup => {
  const parts = buildPolicy(o, log)
  const guard = parts.guard(server.info.name)
  if (guard !== undefined) server.guard = guard
  return { authenticate: parts.authenticate((engine, identity) => engine.grant(identity, server.info.name)), close: parts.close }
}
