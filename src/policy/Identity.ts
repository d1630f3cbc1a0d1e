/**
 * Who is calling: the authenticated principal a policy matches on. Built by
 * the authenticators (a verified JWT, an API-key entry) and bound to the
 * session by the transport's auth hook; a session id is never a credential.
 *
 * `id` is the principal string the HTTP server binds sessions to; `subject`,
 * `groups` and `scopes` are what policies read (Cedar: the principal entity's
 * attributes, groups as its parents).
 */
export interface Identity {
  /** Stable principal id: `sub` of a JWT (prefixed by nothing), the API key's name. */
  readonly id: string
  readonly subject: string
  readonly groups: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string>
  /** Every verified claim (JWT) or the key entry's extra attributes. */
  readonly claims: { readonly [key: string]: unknown }
  readonly via: "jwt" | "apiKey" | "anonymous"
}

/** The caller when no authentication is configured (stdio, an open HTTP endpoint). */
export const ANONYMOUS: Identity = Object.freeze({
  id: "anonymous",
  subject: "anonymous",
  groups: [],
  scopes: [],
  claims: {},
  via: "anonymous"
})

const strings = (v: unknown): ReadonlyArray<string> =>
  typeof v === "string" ? v.split(/\s+/).filter((s) => s.length > 0) : Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []

/**
 * An identity from verified JWT claims: groups from `groups` (or the configured
 * claim), scopes from `scope` (space-separated, RFC 8693) or `scp` (array).
 */
export const identityFromClaims = (
  claims: { readonly [key: string]: unknown },
  options: { readonly groupsClaim?: string; readonly scopesClaim?: string } = {}
): Identity => {
  const sub = typeof claims.sub === "string" ? claims.sub : ""
  const groupsClaim = options.groupsClaim ?? "groups"
  const scopes = options.scopesClaim !== undefined
    ? strings(claims[options.scopesClaim])
    : strings(Object.hasOwn(claims, "scope") ? claims.scope : claims.scp)
  return { id: sub, subject: sub, groups: strings(Object.hasOwn(claims, groupsClaim) ? claims[groupsClaim] : undefined), scopes, claims, via: "jwt" }
}
