/**
 * One bearer credential → an identity: a JWT (three dot-separated parts) is
 * verified against the configured keys; anything else is looked up in the
 * API-key table. With neither configured, every token is refused.
 */
import type { ApiKeyTable } from "./ApiKeyTable.ts"
import type { Verified } from "./JwtVerifier.ts"

export type Authenticator = (token: string) => Verified | Promise<Verified>

const JWT_SHAPE = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/

export const makeAuthenticator = (options: {
  readonly jwt?: (token: string) => Promise<Verified>
  readonly apiKeys?: ApiKeyTable
}): Authenticator => (token) => {
  if (JWT_SHAPE.test(token)) {
    if (options.jwt !== undefined) return options.jwt(token)
    return { ok: false, reason: "JWTs are not accepted here" }
  }
  const identity = options.apiKeys?.lookup(token)
  return identity === undefined ? { ok: false, reason: "unknown API key" } : { ok: true, identity }
}
