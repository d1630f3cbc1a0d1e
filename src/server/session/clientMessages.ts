/**
 * What the session sends its client on its own or for a handler: log messages (filtered
 * by the level the client set, or a modern request's `_meta`) and server→client requests
 * (legacy sessions only, after `initialized`, within the capabilities the client declared),
 * and the list-changed / resource-updated notices of the server's changes.
 */
import { missingClientCapabilityFor } from "../../protocol/capabilities.ts"
import { ErrorCode, McpError } from "../../protocol/errors.ts"
import { notification, type Params, type RequestId } from "../../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../../protocol/modern.ts"
import type { ServerChange } from "../../protocol/subscriptions.ts"
import type { Result } from "../dispatch.ts"
import type { ServerRequestOptions } from "../RequestContext.ts"
import type { ServerSession } from "../ServerSession.ts"
import { isLoggingLevel, levelRank, type LoggingLevel } from "../types.ts"
import type { InFlight } from "./InFlight.ts"
import { ClientCapabilityNotDeclared, OutboundRequests } from "./outboundRequests.ts"

export const log = (s: ServerSession, level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight | undefined, modern: ModernRequestContext | undefined): void => {
  let threshold: LoggingLevel | undefined
  if (modern) {
    // 2026-07-28: no log messages for a request that did not ask for them.
    if (!isLoggingLevel(modern.logLevel)) return
    threshold = modern.logLevel
  } else threshold = s.state.logLevel
  if (threshold !== undefined && levelRank(level) < levelRank(threshold)) return
  if (entry?.done) return
  const params: Record<string, unknown> = { level, data }
  if (logger !== undefined) params.logger = logger
  s.send(notification("notifications/message", params), entry?.request.id)
}

export const requestFromHandler = (
  s: ServerSession,
  entry: InFlight,
  modern: ModernRequestContext | undefined,
  method: string,
  params: Params | undefined,
  options?: ServerRequestOptions
): Promise<Result> => {
  if (modern) {
    // 2026-07-28 servers send no JSON-RPC requests; the three input methods go through MRTR (HandlerContext.request).
    return Promise.reject(new McpError(ErrorCode.MethodNotFound, `${method}: servers send no requests in protocol ${modern.protocolVersion}`))
  }
  return s.request(method, params, options, entry.request.id)
}

/** See `ServerSession.request`. */
export const requestClient = (s: ServerSession, method: string, params?: Params, options?: ServerRequestOptions, related?: RequestId): Promise<Result> => {
  if (s.released) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, "Session closed"))
  // lifecycle.mdx:L160-L163: no requests but ping before the client's `initialized`.
  if (!s.operating && method !== "ping") {
    return Promise.reject(new McpError(ErrorCode.InvalidRequest, `${method} must wait until the client has sent notifications/initialized`))
  }
  const missing = missingClientCapabilityFor(s.chartContext()?.clientCapabilities ?? {}, method, params)
  if (missing !== undefined) return Promise.reject(ClientCapabilityNotDeclared.of(missing, method))
  const timeoutMs = options?.timeoutMs ?? s.options.requestTimeoutMs ?? 60_000
  const outbound = (s.outbound ??= new OutboundRequests((message, rel) => {
    // The request's id for its CLIENT span (Telemetry.outgoingFromServer); a no-op outside one.
    if ("method" in message && "id" in message) s.server.telemetry?.requestSent(message.id)
    s.send(message, rel)
  }))
  return outbound.request(method, params, timeoutMs, options?.signal, s.clock, related)
}

/** The server's tools, resources or prompts changed: tell the client (from `operating` on; an update only to a subscriber). */
export const notifyServerChange = (s: ServerSession, change: ServerChange): void => {
  if (!s.operating) return
  if (change.type === "resourceUpdated") {
    if (s.state.subscriptions?.has(change.uri)) s.notify("notifications/resources/updated", { uri: change.uri })
  } else s.notify(`notifications/${change.type}/list_changed`)
}
