/**
 * The MCP method surface every client shares, written once over `request`:
 * the legacy session, the modern client, the HTTP session (which swaps its
 * session on re-initialization) and the dual-era client.
 *
 * Each method's result is checked against the shape its method promises
 * (`src/protocol/results.ts`) and typed as such; a result that does not fit fails
 * that call with `RpcError` 'invalid response from the server'. `request` stays
 * unchecked and untyped (any method; the host forwards through it).
 */
import type { Params } from "../protocol/jsonrpc.ts"
import {
  type CallToolResult,
  type CheckedMethod,
  resultCheckers,
  type CompleteResult,
  type GetPromptResult,
  type ListPromptsResult,
  type ListResourcesResult,
  type ListResourceTemplatesResult,
  type ListToolsResult,
  type ReadResourceResult,
  type Result,
  type ResultOf
} from "../protocol/results.ts"

export type { Result }
type Cursor = { readonly cursor?: string }

const cursorParams = (options?: Cursor): Params | undefined =>
  options?.cursor === undefined ? undefined : { cursor: options.cursor }

/** Methods of both eras (tools, resources, prompts, completion). */
export abstract class McpMethods<O extends object> {
  abstract request(method: string, params?: Params, options?: O): Promise<Result>

  private checked<M extends CheckedMethod>(method: M, params: Params | undefined, options: O | undefined): Promise<ResultOf[M]> {
    return this.request(method, params, options).then(resultCheckers[method])
  }

  listTools(options?: O & Cursor): Promise<ListToolsResult> {
    return this.checked("tools/list", cursorParams(options), options)
  }
  callTool(name: string, args: Record<string, unknown> = {}, options?: O): Promise<CallToolResult> {
    return this.checked("tools/call", { name, arguments: args }, options)
  }
  listResources(options?: O & Cursor): Promise<ListResourcesResult> {
    return this.checked("resources/list", cursorParams(options), options)
  }
  listResourceTemplates(options?: O & Cursor): Promise<ListResourceTemplatesResult> {
    return this.checked("resources/templates/list", cursorParams(options), options)
  }
  readResource(uri: string, options?: O): Promise<ReadResourceResult> {
    return this.checked("resources/read", { uri }, options)
  }
  listPrompts(options?: O & Cursor): Promise<ListPromptsResult> {
    return this.checked("prompts/list", cursorParams(options), options)
  }
  getPrompt(name: string, args: Record<string, string> = {}, options?: O): Promise<GetPromptResult> {
    return this.checked("prompts/get", { name, arguments: args }, options)
  }
  complete(
    ref: { readonly type: string; readonly name?: string; readonly uri?: string },
    argument: { readonly name: string; readonly value: string },
    options?: O
  ): Promise<CompleteResult> {
    return this.checked("completion/complete", { ref, argument }, options)
  }
}

/** Plus the legacy-only methods (removed in 2026-07-28: ping, logging/setLevel, resources/subscribe). */
export abstract class LegacyMcpMethods<O extends object> extends McpMethods<O> {
  subscribeResource(uri: string, options?: O): Promise<Result> {
    return this.request("resources/subscribe", { uri }, options)
  }
  unsubscribeResource(uri: string, options?: O): Promise<Result> {
    return this.request("resources/unsubscribe", { uri }, options)
  }
  setLoggingLevel(level: string, options?: O): Promise<Result> {
    return this.request("logging/setLevel", { level }, options)
  }
  ping(options?: O): Promise<Result> {
    return this.request("ping", undefined, options)
  }
}
