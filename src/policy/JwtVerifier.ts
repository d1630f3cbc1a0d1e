/**
 * Bearer JWTs verified with `jose` against configured keys (a JWKS document
 * from a file or a URL), issuer and audience. `jose` refuses unsecured
 * (`alg: none`) tokens outright, and the accepted algorithms are an explicit
 * allow-list so an HMAC key can never be confused with an RSA/EC public key.
 */
import { readFileSync } from "node:fs"
import type { JSONWebKeySet, JWTVerifyGetKey } from "jose"
import { type Identity, identityFromClaims } from "./Identity.ts"

export interface JwtOptions {
  /** A JWKS document (`{ keys: [...] }`), inline. */
  readonly jwks?: JSONWebKeySet
  /** Path of a JWKS document. */
  readonly jwksFile?: string
  /** URL of a JWKS document (fetched and cached by jose, refreshed on unknown `kid`). */
  readonly jwksUrl?: string
  readonly issuer: string
  readonly audience: string
  /** Default: the asymmetric algorithms RS256/384/512, PS256/384/512, ES256/384/512, EdDSA. */
  readonly algorithms?: ReadonlyArray<string>
  /** Seconds of clock skew tolerated on exp/nbf. Default 30. */
  readonly clockToleranceSeconds?: number
  readonly groupsClaim?: string
  readonly scopesClaim?: string
  /** Current time (tests). */
  readonly now?: () => Date
}

export type Verified = { readonly ok: true; readonly identity: Identity } | { readonly ok: false; readonly reason: string }

const DEFAULT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

// jose is loaded with the first token (an ES module; `import "mcp-actors"` should not pay for it).
type Jose = typeof import("jose")
let jose: Promise<Jose> | undefined
const loadJose = (): Promise<Jose> => (jose ??= import("jose"))

/** Why jose refused a token, in words a client can act on (never the token itself). */
const reasonOf = ({ errors }: Jose, e: unknown): string => {
  if (e instanceof errors.JWTExpired) return "the token has expired"
  if (e instanceof errors.JWTClaimValidationFailed) return `claim "${e.claim}" is invalid (${e.reason})`
  if (e instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not allowed"
  if (e instanceof errors.JWSSignatureVerificationFailed) return "the signature does not verify"
  if (e instanceof errors.JWKSNoMatchingKey) return "no configured key matches the token"
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return "the token is malformed"
  if (e instanceof errors.JOSENotSupported) return "the token uses an unsupported algorithm"
  return "the token could not be verified"
}

export const makeJwtVerifier = (options: JwtOptions): ((token: string) => Promise<Verified>) => {
  // The key material is read now, so a bad file fails at start-up rather than on the first request.
  const local: JSONWebKeySet | undefined = options.jwks ?? (options.jwksFile !== undefined ? JSON.parse(readFileSync(options.jwksFile, "utf8")) as JSONWebKeySet : undefined)
  if (local === undefined && options.jwksUrl === undefined) throw new TypeError("JWT verification needs keys: jwks, jwksFile or jwksUrl")
  const remote = options.jwksUrl === undefined ? undefined : new URL(options.jwksUrl)
  let keys: JWTVerifyGetKey | undefined
  const keysFor = (j: Jose): JWTVerifyGetKey => (keys ??= local !== undefined ? j.createLocalJWKSet(local) : j.createRemoteJWKSet(remote!))
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: [...(options.algorithms ?? DEFAULT_ALGORITHMS)],
    clockTolerance: options.clockToleranceSeconds ?? 30,
    ...(options.now === undefined ? {} : { currentDate: options.now() })
  }
  const naming = {
    ...(options.groupsClaim === undefined ? {} : { groupsClaim: options.groupsClaim }),
    ...(options.scopesClaim === undefined ? {} : { scopesClaim: options.scopesClaim })
  }
  return async (token) => {
    const j = await loadJose()
    try {
      const { payload } = await j.jwtVerify(token, keysFor(j), options.now === undefined ? verifyOptions : { ...verifyOptions, currentDate: options.now() })
      if (typeof payload.sub !== "string" || payload.sub.length === 0) return { ok: false, reason: 'claim "sub" is missing' }
      return { ok: true, identity: identityFromClaims(payload as Record<string, unknown>, naming) }
    } catch (e) {
      return { ok: false, reason: reasonOf(j, e) }
    }
  }
}
