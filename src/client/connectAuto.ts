/**
 * Dual-era connect: find out whether a server speaks the modern (2026-07-28)
 * or the legacy (`initialize`) protocol, then talk to it in that era — on the
 * same transport (for stdio: the same child process, which the probe and the
 * fallback share; 2026-07-28/basic/transports/stdio.mdx:L121-L147).
 *
 * 1. The `eraProbe` chart (through `EraProber`) reads the `EraCache`; without a
 *    cached verdict it sends `server/discover` with the modern `_meta`. A
 *    DiscoverResult or a recognised modern error means modern; any other error
 *    or a timeout (`probeTimeoutMs`) means legacy. The verdict is cached under
 *    `key` (stdio: command + args, `stdioServerKey`; HTTP: the origin).
 * 2. modern → a `ModernClient` (after a recognised modern error, `server/discover`
 *    is retried with the version the chart picked); legacy → `ClientSession.connect`.
 * 3. A cached verdict is trusted, not proven. A cached legacy verdict whose
 *    `initialize` is rejected is revoked (`CACHED_VERDICT_FAILED`) and the
 *    server probed again, before `connectAuto` returns. A cached modern verdict
 *    stays unconfirmed until a response carries a modern marker (`resultType`
 *    or `_meta` serverInfo) or a modern error (-32021/-32022); a JSON-RPC error
 *    or a timeout, or an unmarked result before that makes the `AutoClient`
 *    re-probe. If the
 *    server now turns out legacy, the client switches to a legacy session on
 *    the same transport; a request the server refused as unknown or invalid
 *    (-32601/-32600, so not executed) is re-sent there, any other outcome is
 *    returned as it was.
 *
 * The result is a `Client` (Client.ts; `AutoClient` is its deprecated alias): the
 * `McpClientLike` method surface of both eras plus `era`, the `client` in charge
 * (ModernClient | ClientSession) and the `verdict`. With `era: "legacy" | "modern"`
 * the probe is skipped and the client never switches.
 */
import { modernClientOptions, openForVerdict } from "./DualEraClient.ts"
import { type EraBackend, Client, type Side } from "./Client.ts"
import { Effect, type Scope } from "effect"
import type { AnyActorRef } from "xstate"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { Era } from "../protocol/era.ts"
import { decodeText, type Params, type RequestId, request as makeRequest } from "../protocol/jsonrpc.ts"
import type { ModernVersion } from "../protocol/versions.ts"
import type { PeerInfo } from "../runtime/SessionHandle.ts"
import { makeStdioClientTransport, type SpawnError, type StdioClientOptions } from "../transports/stdioClient.ts"
import type { Transport } from "../transports/Transport.ts"
import { ClientSession, type ClientSessionOptions, type RequestOptions, type Result } from "./ClientSession.ts"
import { defaultEraCache, type EraCache, stdioServerKey } from "./EraCache.ts"
import { EraProber, type EraVerdict, type SendDiscover } from "./EraProber.ts"
import { ConnectionLost, type ConnectError } from "../protocol/requestErrors.ts"
import { ModernClient } from "./ModernClient.ts"
import { type HubView, TransportHub } from "./TransportHub.ts"
import { type ClientRuntimeOptions, openClientConnection } from "./clientConnection.ts"

/** What both eras' clients offer (ClientSession and ModernClient both satisfy it). */
export interface McpClientLike {
  readonly serverCapabilities: ServerCapabilities | undefined
  readonly serverInfo: PeerInfo | undefined
  readonly instructions: string | undefined
  readonly protocolVersion: string | undefined
  request(method: string, params?: Params, options?: RequestOptions): Promise<Result>
  listTools(options?: RequestOptions & { readonly cursor?: string }): Promise<Result>
  callTool(name: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<Result>
  listResources(options?: RequestOptions & { readonly cursor?: string }): Promise<Result>
  listResourceTemplates(options?: RequestOptions & { readonly cursor?: string }): Promise<Result>
  readResource(uri: string, options?: RequestOptions): Promise<Result>
  listPrompts(options?: RequestOptions & { readonly cursor?: string }): Promise<Result>
  getPrompt(name: string, args?: Record<string, string>, options?: RequestOptions): Promise<Result>
  complete(
    ref: { readonly type: string; readonly name?: string; readonly uri?: string },
    argument: { readonly name: string; readonly value: string },
    options?: RequestOptions
  ): Promise<Result>
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>
}

export interface AutoConnectOptions extends ClientSessionOptions, ClientRuntimeOptions {
  /** Which server this is, for the era cache (`stdioServerKey`, `httpServerKey`). Without it nothing is cached. */
  readonly key?: string
  /** Default: the process-wide `defaultEraCache`. */
  readonly cache?: EraCache
  /** How long to wait for the `server/discover` answer before deciding legacy. Default 10 s. */
  readonly probeTimeoutMs?: number
  /** Modern versions we speak, preferred first (default `MODERN_VERSIONS`). */
  readonly modernVersions?: ReadonlyArray<ModernVersion>
  /** Modern only: default per-request log level (`_meta` logLevel). */
  readonly logLevel?: string
  /** Diagnostics (re-probes, ignored messages). */
  readonly onDiagnostic?: (text: string) => void
  /**
   * Which era to speak: `"auto"` (default) probes (or trusts the cache); `"legacy"` or
   * `"modern"` skip the probe and the cache and never switch.
   */
  readonly era?: "auto" | Era
  /** The actor whose children the client's charts are (probe, modern client, legacy session). */
  readonly actorParent?: AnyActorRef
}

/** Modern client ids on a shared transport: `m1`, `m2`, … (legacy sessions use numbers, the probe `probe-N`). */
const MODERN_ID_PREFIX = "m"
const isModernId = (id: RequestId): boolean => typeof id === "string" && id.startsWith(MODERN_ID_PREFIX)
const isLegacyId = (id: RequestId): boolean => typeof id === "number"


/** `server/discover` over a shared message transport: a `probe-N` request and the response with that id. */
export const discoverOverHub = (hub: TransportHub): SendDiscover => {
  let seq = 0
  return (params, signal) =>
    new Promise((resolve, reject) => {
      const id = `probe-${++seq}`
      let done = false
      const view = hub.attach({ owns: (x) => x === id, primary: false })
      const finish = () => {
        done = true
        signal.removeEventListener("abort", finish)
        view.detach()
      }
      view.start({
        onFrame: (text) => {
          if (done) return
          const d = decodeText(text)
          if (d._tag !== "Message") return
          const m = d.message
          if ("method" in m || m.id !== id) return
          finish()
          resolve("result" in m
            ? { _tag: "Result", result: m.result }
            : { _tag: "Error", code: m.error.code, message: m.error.message, data: m.error.data })
        },
        onOversized: () => {},
        onClose: (closed) => {
          if (done) return
          done = true
          reject(new ConnectionLost({ method: "server/discover", message: `server/discover: connection lost (${closed.reason})` }))
        }
      })
      signal.addEventListener("abort", finish, { once: true })
      view.send(makeRequest(id, "server/discover", params))
    })
}

/**
 * The client `connectAuto` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`; this alias stays for existing imports.
 */
export type AutoClient = Client
/**
 * The client `connectAuto` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`.
 */
export const AutoClient = Client

/**
 * The message-transport family of `Client`: one shared transport (a `TransportHub`)
 * whose views carry the probe's, the modern client's and the legacy session's ids;
 * closing the client closes it (for stdio: the child process).
 */
const hubBackend = (hub: TransportHub, options: AutoConnectOptions, views: Map<ModernClient, HubView>): EraBackend => ({
  openLegacy: () => connectLegacy(hub, options),
  releaseModern: (old) => {
    // Its responses still reach it until it has nothing in flight; then it lets go of the transport.
    views.get(old)?.commit(false)
    views.delete(old)
    void old.close({ reason: "server is legacy" })
  },
  release: () => hub.close()
})

/** A legacy session on the shared transport; its view closes the transport once the session is up. */
const connectLegacy = async (hub: TransportHub, options: AutoConnectOptions): Promise<Side> => {
  const view = hub.attach({ owns: isLegacyId })
  try {
    const session = await ClientSession.connect(view, options, options.actorParent !== undefined ? { actorParent: options.actorParent } : {})
    view.commit()
    return { era: "legacy", client: session }
  } catch (e) {
    view.detach()
    throw e
  }
}

const modernClientOn = (hub: TransportHub, options: AutoConnectOptions, verdict: EraVerdict, views: Map<ModernClient, HubView>): ModernClient => {
  const view = hub.attach({ owns: isModernId, committed: true })
  const client = ModernClient.create(view, {
    idPrefix: MODERN_ID_PREFIX,
    ...modernClientOptions(options, verdict),
    ...(options.actorParent !== undefined ? { actorParent: options.actorParent } : {})
  })
  views.set(client, view)
  return client
}

/** The era's client for a verdict, or the error that says the verdict did not hold. */
const tryVerdict = async (hub: TransportHub, options: AutoConnectOptions, verdict: EraVerdict, views: Map<ModernClient, HubView>): Promise<Side> => {
  if (verdict.era === "legacy") return connectLegacy(hub, options)
  const client = modernClientOn(hub, options, verdict, views)
  if (verdict.retry) {
    // 2026-07-28/basic/versioning.mdx:L69 — retry with the mutually supported version the chart picked.
    try {
      await client.discover()
    } catch (e) {
      views.get(client)?.commit(false)
      views.delete(client)
      await client.close({ drainMs: 0 })
      throw e
    }
  }
  return { era: "modern", client }
}

/**
 * Connect to the server at the other end of `transport` (not started yet) in
 * whichever era it speaks. Rejects with the legacy `ConnectError`s, a modern
 * error from the retried discover, or `ConnectionLost` when the transport
 * ended during the probe; the transport is then closed.
 *
 * The verdict is cached per `key` (when given), so the next connect to the same server
 * skips the probe; a cached verdict that turns out wrong is corrected once.
 *
 * @example
 * ```ts
 * import { McpServer, connectAuto, makeMemoryTransportPair, serveTransport } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const [serverSide, clientSide] = makeMemoryTransportPair()
 * serveTransport(server, serverSide)                  // our server speaks both eras
 * const client = await connectAuto(clientSide)
 * console.log(client.era)                             // "modern"
 * await client.close()
 * ```
 */
export const connectAuto = async (transport: Transport, options: AutoConnectOptions = {}): Promise<Client> => {
  // Given a parent (a host's server connection), the caller owns the client; else it is a supervised node.
  const node = options.actorParent === undefined ? openClientConnection(transport.kind, options) : undefined
  const opts: AutoConnectOptions = node === undefined ? options : { ...options, actorParent: node.actor, clock: options.clock ?? node.runtime.clock }
  const hub = new TransportHub(transport, node?.transportClosed)
  hub.start()
  const views = new Map<ModernClient, HubView>()
  const prober = new EraProber({
    sendDiscover: discoverOverHub(hub),
    ...(opts.era !== undefined && opts.era !== "auto" ? { era: opts.era } : {}),
    ...(opts.key !== undefined ? { key: opts.key, cache: opts.cache ?? defaultEraCache } : {}),
    ...(opts.modernVersions ? { modernVersions: opts.modernVersions } : {}),
    ...(opts.probeTimeoutMs !== undefined ? { probeTimeoutMs: opts.probeTimeoutMs } : {}),
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
    ...(opts.clientInfo ? { clientInfo: opts.clientInfo } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.actorParent !== undefined ? { actorParent: opts.actorParent } : {})
  })
  let client: Client
  try {
    client = await openForVerdict(
      prober,
      async (verdict) =>
        new Client(prober, { ...hubBackend(hub, opts, views), ...(node !== undefined ? { closing: node.closeRequested } : {}) }, await tryVerdict(hub, opts, verdict, views), verdict, opts.onDiagnostic),
      { onDiagnostic: opts.onDiagnostic, canRetry: () => hub.closed === undefined && !prober.forced }
    )
  } catch (e) {
    prober.stop()
    if (node !== undefined) await node.abandon("connect failed", () => hub.close())
    else await hub.close()
    throw e
  }
  node?.supervise(client, () => hub.close())
  return client
}

export type AutoStdioOptions = StdioClientOptions & AutoConnectOptions

/**
 * Spawn a stdio server and connect in its era; the cache key defaults to its command line.
 *
 * @example
 * ```ts
 * import { connectAutoStdio } from "mcp-actors"
 *
 * const client = await connectAutoStdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-everything", "stdio"] })
 * console.log(client.era, (await client.listTools()).tools)   // "legacy" for a server that only speaks initialize
 * await client.close()
 * ```
 */
export const connectAutoStdio = async (options: AutoStdioOptions): Promise<Client> => {
  const transport = makeStdioClientTransport(options)
  try {
    await transport.spawned
    return await connectAuto(transport, { ...options, key: options.key ?? stdioServerKey(options.command, options.args) })
  } catch (e) {
    await transport.close()
    throw e
  }
}

/** Effect API: the client (and its child process) live in the current Scope. */
export const connectAutoStdioScoped = (
  options: AutoStdioOptions & { readonly drainMs?: number }
): Effect.Effect<Client, SpawnError | ConnectError | ConnectionLost, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectAutoStdio(options),
      catch: (e) => e as SpawnError | ConnectError | ConnectionLost
    }),
    (client) => Effect.promise(() => client.close({ drainMs: options.drainMs ?? 2_000 }))
  )
