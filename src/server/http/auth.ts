/**
 * The auth hook (`options.authenticate`) on every request: a principal (and the
 * identity policies see), anonymous, or a rejection written as is (an
 * {@link HttpRejection} or a fetch `Response`, e.g. 401 with `WWW-Authenticate`).
 * A hook that throws or rejects is a 500.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { type HttpEndpoint, internalError } from "./endpoint.ts"
import type { Authenticate, AuthResult, HttpRejection } from "./options.ts"
import { route } from "./route.ts"

const isThenable = <A>(v: A | PromiseLike<A>): v is PromiseLike<A> =>
  typeof v === "object" && v !== null && typeof (v as PromiseLike<A>).then === "function"

/** Run the hook on `req`, then route it as its principal (or answer the rejection). */
export const authenticateThenRoute = (ep: HttpEndpoint, authenticate: Authenticate, req: IncomingMessage, res: ServerResponse): void => {
  let outcome: AuthResult | PromiseLike<AuthResult>
  try {
    outcome = authenticate(req)
  } catch (error) {
    return internalError(ep, res, error)
  }
  if (isThenable(outcome)) {
    outcome.then(
      (o) => {
        try {
          afterAuth(ep, req, res, o)
        } catch (error) {
          internalError(ep, res, error)
        }
      },
      (error) => internalError(ep, res, error)
    )
  } else afterAuth(ep, req, res, outcome)
}

const afterAuth = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, outcome: AuthResult): void => {
  if (outcome === undefined) return route(ep, req, res, undefined)
  if (outcome instanceof Response) return void writeWebResponse(res, outcome).catch((e) => internalError(ep, res, e))
  if ("principal" in outcome && typeof outcome.principal === "string") {
    if (outcome.identity !== undefined) ep.identities.set(req, outcome.identity)
    return route(ep, req, res, outcome.principal)
  }
  const rejection = outcome as HttpRejection
  const body = rejection.body === undefined ? "" : typeof rejection.body === "string" ? rejection.body : JSON.stringify(rejection.body)
  const headers: Record<string, string | number> = { ...rejection.headers, "content-length": Buffer.byteLength(body) }
  if (typeof rejection.body === "object") headers["content-type"] = "application/json"
  res.writeHead(rejection.status, headers)
  res.end(body)
}

const writeWebResponse = async (res: ServerResponse, r: Response): Promise<void> => {
  const body = Buffer.from(await r.arrayBuffer())
  const headers: Record<string, string | number> = {}
  r.headers.forEach((v, k) => (headers[k] = v))
  headers["content-length"] = body.length
  res.writeHead(r.status, headers)
  res.end(body)
}
