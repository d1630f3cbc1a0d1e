/**
 * The endpoint's request listener: path (404; `/metrics` when served) → Host/Origin
 * allow-list (403, DNS rebinding) → method (405 + Allow) → the auth hook (auth.ts)
 * → {@link route}. Anything thrown on the way is a 500, never a crash.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { answerMetrics as serveMetrics } from "../../observability/metricsEndpoint.ts"
import { writeRpcError } from "../../transports/http/wire.ts"
import { authenticateThenRoute } from "./auth.ts"
import { type HttpEndpoint, internalError } from "./endpoint.ts"
import { route } from "./route.ts"

/** The `node:http` request listener of `ep`. */
export const makeEntry = (ep: HttpEndpoint) => (req: IncomingMessage, res: ServerResponse): void => {
  try {
    handle(ep, req, res)
  } catch (error) {
    internalError(ep, res, error)
  }
}

const handle = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse): void => {
  const url = req.url ?? ""
  const q = url.indexOf("?")
  if ((q === -1 ? url : url.slice(0, q)) !== ep.path) {
    if (ep.metrics !== undefined && (q === -1 ? url : url.slice(0, q)) === "/metrics") return serveMetrics(req, res, ep.metrics, ep.guard(req))
    res.writeHead(404, { "content-type": "text/plain", "content-length": 9 })
    return void res.end("Not Found")
  }
  const refused = ep.guard(req)
  if (refused !== undefined) return writeRpcError(res, 403, rpcError(ErrorCode.Forbidden, `Forbidden: ${refused}`))
  const method = req.method
  if (method !== "POST" && method !== "GET" && method !== "DELETE") {
    return writeRpcError(res, 405, rpcError(ErrorCode.MethodNotAllowed, `Method Not Allowed: ${method}`), undefined, { allow: "GET, POST, DELETE" })
  }
  if (ep.options.authenticate === undefined) return route(ep, req, res, undefined)
  authenticateThenRoute(ep, ep.options.authenticate, req, res)
}
