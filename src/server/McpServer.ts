/**
 * The definition of an MCP server: its identity, tools, resources, prompts and
 * completions. One definition serves any number of sessions on any transport;
 * it holds no per-session state. Handlers may return a value or a Promise
 * (the plain API); `src/server/effect.ts` adapts Effect handlers onto it.
 */
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import { type ParamHeader, paramHeadersOf } from "../protocol/mcpHeaders.ts"
import type { ServerChange } from "../protocol/subscriptions.ts"
import { compileSchema, type Validator } from "./jsonSchema.ts"
import { makeRequestStateKey, type RequestStateKey } from "./requestState.ts"
import type { CallGuard } from "./CallGuard.ts"
import type { Telemetry } from "../observability/Telemetry.ts"
import type { RequestContext } from "./RequestContext.ts"
import type { ServerSession } from "./ServerSession.ts"
import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  Implementation,
  PromptDefinition,
  ReadResourceResult,
  ResourceDefinition,
  ResourceTemplateDefinition,
  ToolDefinition
} from "./types.ts"
import { compileUriTemplate, type UriMatcher } from "./uriTemplate.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"

type MaybePromise<A> = A | PromiseLike<A>

export type ToolHandler = (args: Record<string, unknown>, ctx: RequestContext) => MaybePromise<CallToolResult>
export type ResourceHandler = (uri: string, ctx: RequestContext) => MaybePromise<ReadResourceResult>
export type ResourceTemplateHandler = (uri: string, variables: Record<string, string>, ctx: RequestContext) => MaybePromise<ReadResourceResult>
export type PromptHandler = (args: Record<string, string>, ctx: RequestContext) => MaybePromise<GetPromptResult>
export type CompletionHandler = (
  request: { readonly ref: { readonly type: string; readonly name?: string; readonly uri?: string }; readonly argument: { readonly name: string; readonly value: string }; readonly context?: { readonly arguments?: Record<string, string> } },
  ctx: RequestContext
) => MaybePromise<CompleteResult>

const UNCHECKED: Validator = () => undefined

/**
 * Handlers for names a server knows but does not list now, by kind (`McpServer.unlisted`): each is
 * asked only when a `tools/call`, `prompts/get` or `resources/read` names nothing registered (a
 * resource: no resource and no template matches), and returns a handler, or undefined for a name
 * that is unknown (the request then gets the usual -32602, or resource not found). Such a call has no
 * definition in force: tool arguments are not validated against a schema, nor are a prompt's
 * required arguments checked (its arguments must still be strings).
 */
export interface UnlistedLookup {
  readonly tool?: ((name: string) => ToolHandler | undefined) | undefined
  readonly prompt?: ((name: string) => PromptHandler | undefined) | undefined
  readonly resource?: ((uri: string) => ResourceHandler | undefined) | undefined
}

/**
 * Who decides on resource subscriptions (the gateway: they become upstream subscriptions). Without
 * one, a legacy `resources/subscribe` is accepted for any URI and `resourceUpdated` reaches the
 * sessions that subscribed, and a modern `subscriptions/listen` gets every URI it asks for.
 */
export interface ResourceSubscriptionHook {
  /**
   * A legacy session's `resources/subscribe`: resolve to accept (the session then hears
   * `resourceUpdated(uri)`), throw or reject with an McpError to refuse. `subscriber` is the
   * session's own object, the same for all its requests and in `sessionEvents`' "left"
   * (`session.state`). Subscribing again is the hook's to ignore.
   */
  subscribe(uri: string, subscriber: object, ctx: RequestContext): void | PromiseLike<void>
  /** A legacy session's `resources/unsubscribe` (it no longer hears the URI's updates, whatever the hook answers). */
  unsubscribe(uri: string, subscriber: object, ctx: RequestContext): void | PromiseLike<void>
  /**
   * A modern `subscriptions/listen` asking for `uris`: the ones it will be told of (its
   * acknowledgement's `resourceSubscriptions`) and what to call when the listen ends.
   */
  listen?(uris: ReadonlyArray<string>, subscriber: object): { readonly honored: ReadonlyArray<string>; readonly end: () => void }
}

export interface RegisteredTool {
  readonly definition: ToolDefinition
  readonly handler: ToolHandler
  readonly validateInput: Validator
  readonly validateOutput: Validator | undefined
  /** Its `x-mcp-header` annotations: arguments a modern HTTP client mirrors into `Mcp-Param-*` headers. */
  readonly paramHeaders: ReadonlyArray<ParamHeader>
}
export interface RegisteredResourceTemplate {
  readonly definition: ResourceTemplateDefinition
  readonly match: UriMatcher
  readonly handler: ResourceTemplateHandler
}

/** How an `McpServer` introduces itself in `initialize` / `server/discover`, and its MRTR sealing key. */
export interface McpServerOptions {
  readonly name: string
  readonly version: string
  readonly title?: string
  readonly instructions?: string
  /** Extra capabilities to advertise (merged over the ones derived from registrations). */
  readonly capabilities?: ServerCapabilities
  /**
   * Key that seals MRTR `requestState` (HMAC-SHA256). Default: random per process,
   * so several processes behind one URL must share one.
   */
  readonly requestStateSecret?: string | Uint8Array
  /** How long a sealed `requestState` stays valid. Default 10 minutes. */
  readonly requestStateTtlMs?: number
  /** Middleware every call and list passes (the policy gateway: `policyGuard`). */
  readonly guard?: CallGuard
  /**
   * The most resource URIs one session may subscribe to (legacy `resources/subscribe`; beyond it
   * -32014 `TooManySubscriptions`), and the most one modern `subscriptions/listen` is acknowledged
   * for (the first ones asked). Default 1 000: enough for any client watching what it shows, few
   * enough that one client cannot make a gateway's host hold unbounded upstream subscriptions.
   */
  readonly maxSubscriptionsPerSession?: number
  /** OpenTelemetry spans and metrics for every session and request (opt-in; see docs/observability.md). */
  readonly telemetry?: Telemetry
}

export type { ServerChange }

/** A change listener that is an object (a session), registered with `McpServer.watch`. */
export interface ServerChangeWatcher {
  serverChanged(change: ServerChange): void
}

/**
 * Where `watch` keeps a watcher's key in its server's listener table (internal: a
 * session declares the field, so its shape does not change when it starts watching).
 */
export const WATCH_KEY: unique symbol = Symbol("mcp-actors.watchKey")
type KeyedWatcher = ServerChangeWatcher & { [WATCH_KEY]?: number | undefined }
type ChangeListener = ((change: ServerChange) => void) | ServerChangeWatcher

const EMPTY_OBJECT_SCHEMA = { type: "object", properties: {} } as const

/**
 * The server definition: tools, resources, prompts and completions, shared by every session
 * that serves it. It holds no connection state, so one `McpServer` can be served over stdio,
 * Streamable HTTP and WebSocket at once, in both eras; registering or removing something
 * tells the live sessions (`notifications/…/list_changed`, `subscriptions/listen` streams).
 *
 * @example
 * ```ts
 * import { McpServer, makeStdioServerTransport, serveTransport } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 *   .tool(
 *     { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
 *     (args) => ({ content: [{ type: "text", text: String(args.text) }] })
 *   )
 *   .resource({ uri: "file:///notes.md", name: "notes", mimeType: "text/markdown" }, (uri) => ({
 *     contents: [{ uri, mimeType: "text/markdown", text: "# Notes" }]
 *   }))
 *
 * const session = serveTransport(server, makeStdioServerTransport())
 * await session.ended
 * ```
 */
export class McpServer {
  readonly info: Implementation
  readonly instructions: string | undefined
  /** @internal Seals MRTR `requestState` (see requestState.ts). */
  readonly requestStateKey: RequestStateKey
  readonly tools = new Map<string, RegisteredTool>()
  readonly resources = new Map<string, { readonly definition: ResourceDefinition; readonly handler: ResourceHandler }>()
  readonly resourceTemplates = new Array<RegisteredResourceTemplate>()
  readonly prompts = new Map<string, { readonly definition: PromptDefinition; readonly handler: PromptHandler }>()
  completionHandler: CompletionHandler | undefined
  /** Middleware every call and list passes (see CallGuard.ts); may be set or replaced at any time. */
  guard: CallGuard | undefined
  /** Spans and metrics (see docs/observability.md); may be set or replaced at any time. */
  telemetry: Telemetry | undefined
  /**
   * Told when a legacy session starts operating (after `initialized`), ends, or its client sends
   * `notifications/roots/list_changed`: the gateway forwards its clients' roots upstream.
   */
  sessionEvents: ((event: "joined" | "left" | "rootsChanged", session: ServerSession) => void) | undefined
  /**
   * Asked for a name the server does not list now (see `UnlistedLookup`): the gateway's entries of an
   * upstream that is restarting answer with the reason, not "unknown tool" / "unknown prompt" /
   * "resource not found". Guards and telemetry see the call first, as any other.
   */
  unlisted: UnlistedLookup | undefined
  /** The most URIs one session may subscribe to (`McpServerOptions.maxSubscriptionsPerSession`); may be changed at any time. */
  maxSubscriptionsPerSession: number
  /** Decides on resource subscriptions (see `ResourceSubscriptionHook`); may be set or replaced at any time. */
  resourceSubscriptions: ResourceSubscriptionHook | undefined
  private extraCapabilities: ServerCapabilities | undefined
  /**
   * By a key of their own, not by themselves: the table lives as long as the server and sees
   * every session come and go, and a `Set` of the sessions kept ended ones reachable for the
   * young GC through its dropped hash tables (see ClearingMap.ts).
   */
  private readonly listeners = new ClearingMap<number, ChangeListener>()
  private nextListenerKey = 0
  /** Keys of watchers whose `WATCH_KEY` slot another server holds (a watcher of two servers: rare). */
  private otherWatchKeys: Map<ServerChangeWatcher, number> | undefined
  private cachedCapabilities: ServerCapabilities | undefined
  private cachedToolList: ReadonlyArray<ToolDefinition> | undefined
  /** Inside `update`: the lists changed so far (notified when it ends). */
  private batch: Set<"tools" | "resources" | "prompts"> | undefined

  constructor(options: McpServerOptions) {
    this.info = options.title === undefined
      ? { name: options.name, version: options.version }
      : { name: options.name, version: options.version, title: options.title }
    this.instructions = options.instructions
    this.extraCapabilities = options.capabilities
    this.requestStateKey = makeRequestStateKey(options.requestStateSecret, options.requestStateTtlMs)
    this.guard = options.guard
    this.maxSubscriptionsPerSession = options.maxSubscriptionsPerSession ?? 1_000
    this.telemetry = options.telemetry
  }

  /**
   * Register a tool; its `inputSchema` (JSON Schema) is validated on every call and listed verbatim.
   * Throws a TypeError when its `x-mcp-header` annotations break the spec's rules: modern HTTP
   * clients MUST drop such a tool from `tools/list`, so it could never be called from them.
   * `validate: false` passes arguments and results through unchecked: for a proxy (the host's
   * gateway) whose upstream server validates them itself.
   */
  tool(definition: ToolDefinition, handler: ToolHandler, options: { readonly validate?: boolean } = {}): this {
    const inputSchema = definition.inputSchema ?? EMPTY_OBJECT_SCHEMA
    const params = paramHeadersOf(inputSchema)
    if (!params.ok) throw new TypeError(`tool ${JSON.stringify(definition.name)}: ${params.reason}`)
    this.tools.set(definition.name, {
      definition: { ...definition, inputSchema },
      handler,
      paramHeaders: params.headers,
      validateInput: options.validate === false ? UNCHECKED : compileSchema(inputSchema),
      validateOutput: definition.outputSchema && options.validate !== false ? compileSchema(definition.outputSchema) : undefined
    })
    return this.changed({ type: "tools" })
  }

  removeTool(name: string): this {
    return this.tools.delete(name) ? this.changed({ type: "tools" }) : this
  }

  removeResource(uri: string): this {
    return this.resources.delete(uri) ? this.changed({ type: "resources" }) : this
  }

  removeResourceTemplate(uriTemplate: string): this {
    const i = this.resourceTemplates.findIndex((t) => t.definition.uriTemplate === uriTemplate)
    if (i === -1) return this
    this.resourceTemplates.splice(i, 1)
    return this.changed({ type: "resources" })
  }

  removePrompt(name: string): this {
    return this.prompts.delete(name) ? this.changed({ type: "prompts" }) : this
  }

  /**
   * Apply several registrations as one change: sessions get one
   * `list_changed` per list that changed, after `apply` returns (a gateway
   * re-syncing a whole catalog must not send one notification per tool).
   */
  update(apply: (server: this) => void): this {
    if (this.batch !== undefined) {
      apply(this)
      return this
    }
    const batch = this.batch = new Set()
    try {
      apply(this)
    } finally {
      this.batch = undefined
      for (const type of batch) this.changed({ type })
    }
    return this
  }

  resource(definition: ResourceDefinition, handler: ResourceHandler): this {
    this.resources.set(definition.uri, { definition, handler })
    return this.changed({ type: "resources" })
  }

  resourceTemplate(definition: ResourceTemplateDefinition, handler: ResourceTemplateHandler): this {
    this.resourceTemplates.push({ definition, handler, match: compileUriTemplate(definition.uriTemplate) })
    return this.changed({ type: "resources" })
  }

  prompt(definition: PromptDefinition, handler: PromptHandler): this {
    this.prompts.set(definition.name, { definition, handler })
    return this.changed({ type: "prompts" })
  }

  completion(handler: CompletionHandler): this {
    this.completionHandler = handler
    this.cachedCapabilities = undefined
    return this
  }

  /**
   * Replace the capabilities given at construction (merged over the derived ones): for sessions that
   * start from now on (a session keeps what it negotiated).
   */
  setCapabilities(capabilities: ServerCapabilities | undefined): this {
    this.extraCapabilities = capabilities
    this.cachedCapabilities = undefined
    return this
  }

  /** Tell every live session that a resource changed (sent to subscribers only). */
  resourceUpdated(uri: string): void {
    this.emit({ type: "resourceUpdated", uri })
  }

  /** Sessions listen for list changes to send `notifications/*​/list_changed`. */
  onChange(listener: (change: ServerChange) => void): () => void {
    const key = this.nextListenerKey++
    this.listeners.set(key, listener)
    return () => void this.listeners.delete(key)
  }

  /**
   * `onChange` for a listener that is an object (a session): no closure and no
   * unsubscribe function per session. Undone by {@link McpServer.unwatch}.
   */
  watch(watcher: ServerChangeWatcher): void {
    if (this.watchKeyOf(watcher) !== undefined) return
    const key = this.nextListenerKey++
    this.listeners.set(key, watcher)
    const keyed = watcher as KeyedWatcher
    // A set slot is another server's (`unwatch` clears it): this key goes to the side table.
    if (keyed[WATCH_KEY] === undefined) keyed[WATCH_KEY] = key
    else (this.otherWatchKeys ??= new Map()).set(watcher, key)
  }

  unwatch(watcher: ServerChangeWatcher): void {
    const key = this.watchKeyOf(watcher)
    if (key === undefined) return
    this.listeners.delete(key)
    if (this.otherWatchKeys?.delete(watcher) !== true) (watcher as KeyedWatcher)[WATCH_KEY] = undefined
  }

  /** `watcher`'s key in this server's table, or undefined when it is not watching this server. */
  private watchKeyOf(watcher: ServerChangeWatcher): number | undefined {
    const other = this.otherWatchKeys?.get(watcher)
    if (other !== undefined) return other
    const slot = (watcher as KeyedWatcher)[WATCH_KEY]
    return slot !== undefined && this.listeners.get(slot) === watcher ? slot : undefined
  }

  private emit(change: ServerChange): void {
    for (const l of this.listeners.values()) {
      if (typeof l === "function") l(change)
      else l.serverChanged(change)
    }
  }

  /** Live change listeners (one per legacy session, one per open `subscriptions/listen`): leak checks read it. */
  get changeListenerCount(): number {
    return this.listeners.size
  }

  toolList(): ReadonlyArray<ToolDefinition> {
    return this.cachedToolList ??= [...this.tools.values()].map((t) => t.definition)
  }

  /** Capabilities derived from what is registered (a server advertises only what it serves). */
  capabilities(): ServerCapabilities {
    if (this.cachedCapabilities) return this.cachedCapabilities
    const caps: Record<string, unknown> = { logging: {} }
    if (this.tools.size > 0) caps.tools = { listChanged: true }
    if (this.resources.size > 0 || this.resourceTemplates.length > 0) caps.resources = { subscribe: true, listChanged: true }
    if (this.prompts.size > 0) caps.prompts = { listChanged: true }
    if (this.completionHandler) caps.completions = {}
    return this.cachedCapabilities = { ...caps, ...this.extraCapabilities } as ServerCapabilities
  }

  private changed(change: ServerChange): this {
    this.cachedCapabilities = undefined
    if (change.type === "tools") this.cachedToolList = undefined
    if (this.batch !== undefined && change.type !== "resourceUpdated") {
      this.batch.add(change.type)
      return this
    }
    this.emit(change)
    return this
  }
}
