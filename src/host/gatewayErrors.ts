/**
 * How the gateway answers a request the host refused: the host's typed errors (`ServerUnavailable`,
 * `UnknownName`, …) become a tool error or a JSON-RPC error carrying their typed form under
 * {@link HOST_ERROR_META}, so a client tells "restarting, retry at `retryAt`" from "unknown"; an
 * upstream's own JSON-RPC error passes through, but for a resources/read's "not found", whose code
 * differs between eras (-32002 legacy, -32602 modern): the client gets its era's.
 */
import { ErrorCode, McpError } from "../protocol/errors.ts"
import { isObject } from "../protocol/jsonrpc.ts"
import type { CallToolResult } from "../protocol/results.ts"
import { RpcError } from "../protocol/requestErrors.ts"
import { resourceNotFound, resourceNotFoundCode } from "../server/dispatch.ts"
import { InputRequiredSignal } from "../server/InputRequiredSignal.ts"
import type { RequestContext } from "../server/RequestContext.ts"
import { HostClosed, ServerConnectionLost, ServerUnavailable, SubscriptionUnsupported, UnknownName } from "./errors.ts"

/**
 * Key carrying the typed host error (`_tag`, server, state, …; e.g. `ServerUnavailable`) of a refused
 * gateway request: in a tool error's `_meta`, and in the JSON-RPC error's `data` of a prompts/get
 * (-32603; -32602 for `UnknownName`), a resources/read (-32603; for `UnknownName` the era's
 * resource not found: -32002 legacy, -32602 modern) or a resources/subscribe (-32603; -32002 for
 * `UnknownName`, -32601 for `SubscriptionUnsupported`).
 */
export const HOST_ERROR_META = "io.github.mcp-actors/hostError"

/** The typed form of a host refusal (`_tag` and its fields, without the message), or undefined for any other error. */
export const hostErrorForm = (e: unknown): Record<string, unknown> | undefined => {
  if (!(e instanceof ServerUnavailable || e instanceof ServerConnectionLost || e instanceof UnknownName || e instanceof HostClosed || e instanceof SubscriptionUnsupported)) return undefined
  const { message: _message, ...fields } = e as unknown as Record<string, unknown>
  return { ...fields, _tag: e._tag }
}

/** Upstream JSON-RPC errors stay protocol errors; host errors become tool errors carrying their typed form. */
export const hostFailure = (e: unknown): CallToolResult => {
  if (e instanceof RpcError) throw new McpError(e.code, e.message, e.data)
  const form = hostErrorForm(e)
  if (form !== undefined) return { content: [{ type: "text", text: (e as Error).message }], isError: true, _meta: { [HOST_ERROR_META]: form } }
  throw e
}

/**
 * For requests without a tool error (prompts/get; resources/read through {@link readFailure}): upstream
 * JSON-RPC errors pass through; a host refusal is -32603 (the spec's code for a prompt's or resource's
 * internal error; -32602 for a prompt no server has) with its typed form under `data[HOST_ERROR_META]`,
 * so a client tells "restarting, retry at `retryAt`" from "unknown".
 */
export const protocolFailure = (e: unknown): never => {
  if (e instanceof InputRequiredSignal) throw e
  if (e instanceof RpcError) throw new McpError(e.code, e.message, e.data)
  const form = hostErrorForm(e)
  if (form !== undefined) throw new McpError(e instanceof UnknownName ? ErrorCode.InvalidParams : ErrorCode.InternalError, (e as Error).message, { [HOST_ERROR_META]: form })
  if (e instanceof Error) throw new McpError(ErrorCode.InternalError, e.message)
  throw e
}

/**
 * A resources/read refused: a URI no upstream serves (the host's catalog dropped it before the served
 * lists caught up) is the server's own resource not found for the request's era (`resourceNotFound`:
 * -32002 legacy, -32602 modern, `data.uri`), with the typed form under `data[HOST_ERROR_META]`. An
 * upstream's own resource not found ({@link upstreamNotFound}) becomes the request's era's, with the
 * upstream's message and other `data` fields; the rest as {@link protocolFailure}.
 */
export const readFailure = (uri: string, era: RequestContext["era"]) => (e: unknown): never => {
  if (e instanceof UnknownName) throw resourceNotFound(uri, era, { [HOST_ERROR_META]: hostErrorForm(e) })
  if (e instanceof RpcError && upstreamNotFound(e, uri)) throw resourceNotFound(uri, era, plainData(e.data), e.message)
  return protocolFailure(e)
}

/**
 * Whether an upstream's error to a resources/read of `uri` says "not found", in either era: the legacy
 * code always; the modern one (-32602, also plain invalid params) only with `data.uri` (its own field)
 * the URI read. Read in place: only the answer that passes it on copies the data.
 */
const upstreamNotFound = (e: RpcError, uri: string): boolean =>
  e.code === resourceNotFoundCode("legacy") ||
  (e.code === resourceNotFoundCode("modern") && isObject(e.data) && Object.hasOwn(e.data, "uri") && e.data.uri === uri)

/** A peer's error `data` if it is a JSON object, as a copy of its own fields; else undefined. */
const plainData = (data: unknown): Record<string, unknown> | undefined => (isObject(data) ? { ...data } : undefined)

/**
 * A resource subscription refused: a URI no upstream serves is -32002 (resources/subscribe is legacy
 * only, whose code that is); an upstream that cannot be subscribed to is -32601, the code of a method
 * behind a capability that was not advertised (for this resource); the host's other refusals as for
 * resources/read. The typed form under `data[HOST_ERROR_META]`, as there.
 */
export const subscribeFailure = (uri: string) => (e: unknown): never => {
  if (e instanceof UnknownName) throw resourceNotFound(uri, "legacy", { [HOST_ERROR_META]: hostErrorForm(e) })
  if (e instanceof SubscriptionUnsupported) throw new McpError(ErrorCode.MethodNotFound, e.message, { uri, [HOST_ERROR_META]: hostErrorForm(e) })
  return protocolFailure(e)
}
