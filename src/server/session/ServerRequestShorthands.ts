/**
 * The named server→client requests of a {@link RequestContext}: `elicit`,
 * `createMessage` and `listRoots` are `request` with their method, written once
 * for every context that implements `request` — the session's `HandlerContext`
 * and Telemetry's traced context (which wraps `request` in a CLIENT span), so a
 * shorthand can never take a path its context's `request` does not.
 */
import type { Params } from "../../protocol/jsonrpc.ts"
import type { RequestContext, ServerRequestOptions } from "../RequestContext.ts"

export abstract class ServerRequestShorthands implements Pick<RequestContext, "request" | "elicit" | "createMessage" | "listRoots"> {
  abstract request(method: string, params?: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  elicit(params: Params, options?: ServerRequestOptions) {
    return this.request("elicitation/create", params, options)
  }
  createMessage(params: Params, options?: ServerRequestOptions) {
    return this.request("sampling/createMessage", params, options)
  }
  listRoots(options?: ServerRequestOptions) {
    return this.request("roots/list", undefined, options)
  }
}
