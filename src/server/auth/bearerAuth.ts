/**
 * The HTTP auth hook for bearer credentials (RFC 6750): `Authorization: Bearer …`
 * verified by an {@link Authenticator}, the identity bound to the session by
 * the server (sessions are never credentials: secbp/2025-11-25 L575-L590).
 *
 * - no or malformed credentials → 401, `WWW-Authenticate: Bearer realm=…`
 *   (no error code, as RFC 6750 §3.1 asks when none were presented);
 * - invalid, expired, wrong audience, `alg: none` → 401 with
 *   `error="invalid_token"` and a description;
 * - valid but no grant for this server (`grant` says why) → 403 with a
 *   JSON-RPC error body (`-32003`, the reason), in either era.
 */
import type { IncomingMessage } from "node:http"
import { ErrorCode } from "../../protocol/errors.ts"
import type { Authenticator } from "../../policy/Authenticator.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { AuthResult, Authenticate, HttpRejection } from "../http/HttpServer.ts"

/** How `bearerAuth` checks a credential (`authenticator`), who may use the server (`grant`), and what a 401 advertises. */
export interface BearerAuthOptions {
  readonly authenticator: Authenticator
  /** Why this identity may not use the server at all, or undefined when it may. */
  readonly grant?: (identity: Identity) => string | undefined
  /** Default "mcp". */
  readonly realm?: string
  /** RFC 9728 protected-resource metadata URL, advertised in `WWW-Authenticate`. */
  readonly resourceMetadata?: string
}

const quoted = (s: string): string => `"${s.replace(/["\\]/g, "")}"`

/**
 * The `authenticate` hook of `makeHttpServer` / `makeWsServer` for bearer tokens: the
 * identity it binds is what policies and per-principal limits see, so the
 * session id is never the credential. Refusals follow RFC 6750 (401 with
 * `WWW-Authenticate`, 403 with a JSON-RPC body when `grant` refuses).
 */
export const bearerAuth = (options: BearerAuthOptions): Authenticate => {
  const realm = `Bearer realm=${quoted(options.realm ?? "mcp")}${options.resourceMetadata === undefined ? "" : `, resource_metadata=${quoted(options.resourceMetadata)}`}`
  const unauthorized = (description?: string): HttpRejection => ({
    status: 401,
    headers: { "www-authenticate": description === undefined ? realm : `${realm}, error="invalid_token", error_description=${quoted(description)}` },
    body: { jsonrpc: "2.0", id: null, error: { code: ErrorCode.Unauthorized, message: `Unauthorized${description === undefined ? "" : `: ${description}`}` } }
  })
  const decide = (identity: Identity): AuthResult => {
    const refused = options.grant?.(identity)
    if (refused === undefined) return { principal: identity.id, identity }
    return {
      status: 403,
      body: { jsonrpc: "2.0", id: null, error: { code: ErrorCode.PolicyDenied, message: `Forbidden: ${refused}`, data: { principal: identity.id } } }
    }
  }
  return (req: IncomingMessage) => {
    const header = req.headers.authorization
    if (header === undefined) return unauthorized()
    const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header)
    if (m === null) return unauthorized("the Authorization header must be \"Bearer <token>\"")
    const verified = options.authenticator(m[1]!)
    if (!(verified instanceof Promise)) return verified.ok ? decide(verified.identity) : unauthorized(verified.reason)
    return verified.then((v) => (v.ok ? decide(v.identity) : unauthorized(v.reason)))
  }
}
