/**
 * The MCP method surface every client shares, written once over `request`:
 * the legacy session, the modern client, the HTTP session (which swaps its
 * session on re-initialization) and the dual-era client.
 */
import type { Params } from "../protocol/jsonrpc.ts"

export type Result = { readonly [key: string]: unknown }
type Cursor = { readonly cursor?: string }

const cursorParams = (options?: Cursor): Params | undefined =>
  options?.cursor === undefined ? undefined : { cursor: options.cursor }

/** Methods of both eras (tools, resources, prompts, completion). */
export abstract class McpMethods<O extends object> {
  abstract request(method: string, params?: Params, options?: O): Promise<Result>

  listTools(options?: O & Cursor) {
    return this.request("tools/list", cursorParams(options), options)
  }
  callTool(name: string, args: Record<string, unknown> = {}, options?: O) {
    return this.request("tools/call", { name, arguments: args }, options)
  }
  listResources(options?: O & Cursor) {
    return this.request("resources/list", cursorParams(options), options)
  }
  listResourceTemplates(options?: O & Cursor) {
    return this.request("resources/templates/list", cursorParams(options), options)
  }
  readResource(uri: string, options?: O) {
    return this.request("resources/read", { uri }, options)
  }
  listPrompts(options?: O & Cursor) {
    return this.request("prompts/list", cursorParams(options), options)
  }
  getPrompt(name: string, args: Record<string, string> = {}, options?: O) {
    return this.request("prompts/get", { name, arguments: args }, options)
  }
  complete(
    ref: { readonly type: string; readonly name?: string; readonly uri?: string },
    argument: { readonly name: string; readonly value: string },
    options?: O
  ) {
    return this.request("completion/complete", { ref, argument }, options)
  }
}

/** Plus the legacy-only methods (removed in 2026-07-28: ping, logging/setLevel, resources/subscribe). */
export abstract class LegacyMcpMethods<O extends object> extends McpMethods<O> {
  subscribeResource(uri: string, options?: O) {
    return this.request("resources/subscribe", { uri }, options)
  }
  unsubscribeResource(uri: string, options?: O) {
    return this.request("resources/unsubscribe", { uri }, options)
  }
  setLoggingLevel(level: string, options?: O) {
    return this.request("logging/setLevel", { level }, options)
  }
  ping(options?: O) {
    return this.request("ping", undefined, options)
  }
}
