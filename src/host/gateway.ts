/**
 * The gateway: the host's catalog served as one MCP server (our `McpServer`,
 * so both eras and every transport), plus `/mcp/<server>` over HTTP serving
 * each upstream alone under its original names.
 *
 * A gateway request becomes a host call with the request's context passed
 * through: cancellation (the request's AbortSignal), progress (upstream
 * progress → `ctx.progress`, which also resets the upstream deadline), logs
 * of the call (`ctx.log`), and the upstream server's elicitation, sampling and
 * roots requests, forwarded to the gateway's client through `ctx.elicit` /
 * `ctx.createMessage` / `ctx.listRoots` and answered back upstream.
 *
 * The registrations follow the host's `change` events (already coalesced and
 * health-gated), applied with `McpServer.update`: one `list_changed` per list
 * for the gateway's clients.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { McpError } from "../protocol/errors.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import { RpcError } from "../protocol/requestErrors.ts"
import { type HttpHandler, makeHttpHandler } from "../server/http/HttpServer.ts"
import { McpServer } from "../server/McpServer.ts"
import type { RequestContext } from "../server/RequestContext.ts"
import { CapabilityError } from "../server/ServerSession.ts"
import { isLoggingLevel, type CallToolResult, type GetPromptResult, type ReadResourceResult } from "../server/types.ts"
import { makeWsServer, type WsServerHandle } from "../server/ws/WsServer.ts"
import { serveTransport } from "../server/serveTransport.ts"
import { makeStdioServerTransport } from "../transports/stdioServer.ts"
import type { Result } from "../client/ClientSession.ts"
import type { ServerListing } from "./Catalog.ts"
import { HostClosed, ServerConnectionLost, ServerUnavailable, UnknownName } from "./errors.ts"
import type { CallOptions, McpHost } from "./McpHost.ts"

/** `_meta` key carrying the typed host error of a failed gateway call. */
export const HOST_ERROR_META = "io.github.mcp-actors/hostError"

export interface GatewayOptions {
  readonly name?: string
  readonly version?: string
}

/** The request context of a gateway request, as options of the host call it becomes. */
const forward = (ctx: RequestContext, server: string | undefined): CallOptions => ({
  signal: ctx.signal,
  onProgress: (p) => ctx.progress(p.progress, p.total, p.message),
  // A client that did not declare elicitation/sampling/roots gets no request: the upstream is told no.
  onElicitation: (params) => ctx.elicit(params ?? {}).catch((e) => (e instanceof CapabilityError ? { action: "decline" } : Promise.reject(e))),
  onSampling: (params) => ctx.createMessage(params ?? {}),
  onRoots: () => ctx.listRoots().catch((e) => (e instanceof CapabilityError ? { roots: [] } : Promise.reject(e))),
  onLog: (n) => {
    const p = n.params as { level?: unknown; data?: unknown; logger?: unknown } | undefined
    if (p !== undefined && isLoggingLevel(p.level)) ctx.log(p.level, p.data, typeof p.logger === "string" ? p.logger : server)
  }
})

/** Upstream JSON-RPC errors stay protocol errors; host errors become tool errors carrying their typed form. */
const hostFailure = (e: unknown): CallToolResult => {
  if (e instanceof RpcError) throw new McpError(e.code, e.message, e.data)
  if (e instanceof ServerUnavailable || e instanceof ServerConnectionLost || e instanceof UnknownName || e instanceof HostClosed) {
    const { message: _message, ...fields } = e as unknown as Record<string, unknown>
    return { content: [{ type: "text", text: e.message }], isError: true, _meta: { [HOST_ERROR_META]: { ...fields, _tag: e._tag } } }
  }
  throw e
}
const protocolFailure = (e: unknown): never => {
  if (e instanceof RpcError) throw new McpError(e.code, e.message, e.data)
  if (e instanceof UnknownName) throw new McpError(-32602, e.message)
  if (e instanceof Error) throw new McpError(-32603, e.message)
  throw e
}

/** Re-register `server`'s lists from `listing`; `call` routes each entry. */
const sync = (
  server: McpServer,
  listing: ServerListing,
  routes: {
    readonly tool: (name: string, args: Record<string, unknown>, ctx: RequestContext) => Promise<Result>
    readonly prompt: (name: string, args: Record<string, string>, ctx: RequestContext) => Promise<Result>
    readonly read: (uri: string, ctx: RequestContext) => Promise<Result>
  }
): void => {
  server.update((s) => {
    const tools = new Map(listing.tools.map((t) => [t.name, t]))
    for (const name of [...s.tools.keys()]) {
      const next = tools.get(name)
      if (next === undefined || JSON.stringify(next) !== JSON.stringify(s.tools.get(name)!.definition)) s.removeTool(name)
    }
    for (const [name, def] of tools) {
      if (s.tools.has(name)) continue
      try {
        s.tool(def, (args, ctx) => routes.tool(name, args, ctx).then((r) => r as CallToolResult, hostFailure))
      } catch {
        // A tool whose x-mcp-header annotations break the rules could never be called by a modern HTTP client.
      }
    }
    const prompts = new Map(listing.prompts.map((p) => [p.name, p]))
    for (const name of [...s.prompts.keys()]) if (!prompts.has(name)) s.removePrompt(name)
    for (const [name, def] of prompts) {
      if (!s.prompts.has(name)) s.prompt(def, (args, ctx) => routes.prompt(name, args, ctx).then((r) => r as GetPromptResult, protocolFailure))
    }
    const resources = new Map(listing.resources.map((r) => [r.uri, r]))
    for (const uri of [...s.resources.keys()]) if (!resources.has(uri)) s.removeResource(uri)
    for (const [uri, def] of resources) {
      if (!s.resources.has(uri)) s.resource(def, (u, ctx) => routes.read(u, ctx).then((r) => r as ReadResourceResult, protocolFailure))
    }
    const templates = new Set(listing.resourceTemplates.map((t) => t.uriTemplate))
    for (const t of [...s.resourceTemplates]) if (!templates.has(t.definition.uriTemplate)) s.removeResourceTemplate(t.definition.uriTemplate)
    for (const def of listing.resourceTemplates) {
      if (s.resourceTemplates.some((t) => t.definition.uriTemplate === def.uriTemplate)) continue
      try {
        s.resourceTemplate(def, (u, _vars, ctx) => routes.read(u, ctx).then((r) => r as ReadResourceResult, protocolFailure))
      } catch {
        // a template we cannot parse is not served
      }
    }
  })
}

export interface Gateway {
  /** The aggregated server (`server__tool` names). */
  readonly server: McpServer
  /** The server for one upstream, original names (created on first use). */
  serverFor(name: string): McpServer | undefined
  /** Stop following the host. */
  close(): void
}

/** Build the aggregated gateway server and the per-server ones, kept in step with the host. */
export const makeGateway = (host: McpHost, options: GatewayOptions = {}): Gateway => {
  const info = { name: options.name ?? "mcp-actors-host", version: options.version ?? "0.1.0" }
  const aggregate = new McpServer({
    ...info,
    // Declared even while empty, so clients listen for list_changed from the start.
    capabilities: { tools: { listChanged: true }, resources: { listChanged: true, subscribe: false }, prompts: { listChanged: true } } as never
  })
  const perServer = new Map<string, McpServer>()
  const syncAggregate = () => {
    const c = host.catalog
    sync(aggregate, {
      tools: [...c.tools.values()].map((e) => e.definition),
      prompts: [...c.prompts.values()].map((e) => e.definition),
      resources: [...c.resources.values()].map((e) => e.definition),
      resourceTemplates: c.resourceTemplates.map((e) => e.definition)
    }, {
      tool: (name, args, ctx) => host.callTool(name, args, forward(ctx, c.tools.get(name)?.server)),
      prompt: (name, args, ctx) => host.getPrompt(name, args, forward(ctx, undefined)),
      read: (uri, ctx) => host.readResource(uri, forward(ctx, undefined))
    })
  }
  const syncServer = (name: string, server: McpServer) => {
    sync(server, host.serverListing(name) ?? { tools: [], prompts: [], resources: [], resourceTemplates: [] }, {
      tool: (tool, args, ctx) => host.callServerTool(name, tool, args, forward(ctx, name)),
      prompt: (prompt, args, ctx) => host.requestServer(name, "prompts/get", { name: prompt, arguments: args } as Params, forward(ctx, name)),
      read: (uri, ctx) => host.requestServer(name, "resources/read", { uri }, forward(ctx, name))
    })
  }
  syncAggregate()
  const off = host.on("change", () => {
    syncAggregate()
    for (const [name, server] of perServer) syncServer(name, server)
  })
  return {
    server: aggregate,
    serverFor: (name) => {
      if (!host.serverNames.includes(name)) return undefined
      let server = perServer.get(name)
      if (server === undefined) {
        server = new McpServer({ ...info, name: `${info.name}/${name}`, capabilities: { tools: { listChanged: true } } as never })
        perServer.set(name, server)
        syncServer(name, server)
      }
      return server
    },
    close: off
  }
}

export interface GatewayHttpHandle {
  readonly url: string
  readonly port: number
  readonly server: Server
  close(options?: { readonly drainMs?: number }): Promise<void>
}

/** Streamable HTTP: `/mcp` is the aggregate, `/mcp/<server>` one upstream under its original names. */
export const serveGatewayHttp = async (
  gateway: Gateway,
  options: { readonly port?: number; readonly host?: string } = {}
): Promise<GatewayHttpHandle> => {
  const bind = options.host ?? "127.0.0.1"
  const aggregate = makeHttpHandler(gateway.server, { path: "/mcp" })
  const handlers = new Map<string, HttpHandler>()
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    let path: string
    try {
      path = new URL(req.url ?? "/", "http://gateway").pathname
    } catch {
      path = "/"
    }
    if (path === "/mcp") return aggregate.handler(req, res)
    if (path.startsWith("/mcp/")) {
      let name: string
      try {
        name = decodeURIComponent(path.slice(5))
      } catch {
        name = ""
      }
      let h = handlers.get(name)
      if (h === undefined) {
        const server = gateway.serverFor(name)
        if (server !== undefined) {
          h = makeHttpHandler(server, { path })
          handlers.set(name, h)
        }
      }
      if (h !== undefined) return h.handler(req, res)
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Not Found" } }))
  })
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject)
    http.listen(options.port ?? 0, bind, () => {
      http.off("error", reject)
      resolve()
    })
  })
  const port = (http.address() as AddressInfo).port
  let closed: Promise<void> | undefined
  return {
    url: `http://${bind.includes(":") ? `[${bind}]` : bind}:${port}/mcp`,
    port,
    server: http,
    close: (o = {}) =>
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
        await Promise.all([aggregate, ...handlers.values()].map((h) => h.close({ drainMs: o.drainMs ?? 2_000 })))
        http.closeAllConnections()
        await stopped
      })()
  }
}

/** WebSocket (our transport, subprotocol `mcp`): the aggregate at `/mcp`. */
export const serveGatewayWs = (gateway: Gateway, options: { readonly port?: number; readonly host?: string } = {}): Promise<WsServerHandle> =>
  makeWsServer(gateway.server, { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host !== undefined ? { host: options.host } : {}) })

/** stdio: the aggregate on this process's stdin/stdout; resolves when the client closes stdin. */
export const serveGatewayStdio = (gateway: Gateway): Promise<void> => {
  const session = serveTransport(gateway.server, makeStdioServerTransport())
  return session.ended.then(() => undefined)
}
