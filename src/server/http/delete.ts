/** DELETE: the client ends its legacy session; in-flight work is cancelled, every stream ends; 200 once it has ended. */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { HttpEndpoint } from "./endpoint.ts"
import { lookup } from "./lookup.ts"

export const del = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
  const hs = lookup(ep, req, res, principal, pv)
  if (hs === undefined) return
  hs.terminate(res)
}
