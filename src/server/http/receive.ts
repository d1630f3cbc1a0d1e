/** Handing decoded legacy messages to their session (single POSTs and batches alike). */
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import type { JsonRpcMessage, RequestId } from "../../protocol/jsonrpc.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import type { Exchange } from "./Exchange.ts"
import type { HttpSession } from "./HttpSession.ts"

/** The request a `notifications/cancelled` names (its exchange stops waiting), if any. */
export const cancelledRequestId = (m: JsonRpcMessage): RequestId | undefined => {
  if (!("method" in m) || "id" in m || m.method !== "notifications/cancelled") return undefined
  const id = m.params?.requestId
  return typeof id === "string" || typeof id === "number" ? id : undefined
}

/**
 * Hand `m` to the session. `ServerSession.receive` answers its own failures with
 * -32603; should anything still throw here, the exchange is answered and forgotten,
 * so that its ids do not stay "already in flight" until the session ends.
 */
export const receiveInto = (ep: HttpEndpoint, hs: HttpSession, ex: Exchange | undefined, m: JsonRpcMessage): void => {
  try {
    hs.session.receive(m)
  } catch (error) {
    ep.onError(error)
    if (ex !== undefined) hs.abandon(ex, rpcError(ErrorCode.InternalError, "Internal error"))
  }
}
