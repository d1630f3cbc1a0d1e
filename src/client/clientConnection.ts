/**
 * One client, era chosen by probe or option: `openClient` is what every `connect*`
 * helper is (`connectStdio`, `connectWs`, `connectHttp`, `connectAuto`,
 * `connectAutoStdio`, `connectAutoHttp`), each a thin constructor of the transport's
 * `ClientWire` (how that family reaches a server in each era) and a default `era`.
 *
 * - `era: "legacy"`: a legacy session on the wire, no probe (`connectStdio`,
 *   `connectWs` and `connectHttp` by default, for compatibility);
 * - `era: "modern"`: a modern client, no probe, nothing cached, never switches;
 * - `era: "auto"`: the `eraProbe` chart (`EraProber`, built here and only here) reads the
 *   era cache or sends `server/discover`, and the client may switch once when a cached
 *   verdict turns out wrong (`connectAuto*` by default).
 *
 * Whatever the era, the result is the one `Client` (Client.ts) and a supervised node of the
 * runtime's tree (clientNode.ts), unless an `actorParent` is given (a host's server
 * connection), whose owner then owns the client.
 *
 * The node machinery (`openClientConnection`, `onRuntimeClock`) lives in clientNode.ts
 * (the sessions import it; this module imports them) and is re-exported here.
 *
 * @since 0.3.0
 */
import type { AnyActorRef } from "xstate"
import type { Era } from "../protocol/era.ts"
import type { ModernVersion } from "../protocol/versions.ts"
import type { TransportKind } from "../transports/Transport.ts"
import { Client, type EraBackend, type Side } from "./Client.ts"
import type { ClientSession } from "./ClientSession.ts"
import { type ClientConnection, type ClientNodeOptions, openClientConnection } from "./clientNode.ts"
import { openForVerdict } from "./DualEraClient.ts"
import { defaultEraCache, type EraCache } from "./EraCache.ts"
import { EraProber, type EraProberOptions, type EraVerdict, type SendDiscover } from "./EraProber.ts"
import type { HttpClientSession } from "./HttpClientSession.ts"

export {
  type ClientConnection,
  type ClientNodeOptions,
  type ClientRuntimeOptions,
  type InspectObserver,
  onRuntimeClock,
  openClientConnection
} from "./clientNode.ts"

/** Which era a client speaks: `"legacy"` (initialize), `"modern"` (2026-07-28), or `"auto"` (probe, or the cache). */
export type ClientEra = "auto" | Era

/** What every `connect*` helper takes to choose the era (on top of its transport's and session's options). */
export interface ClientEraOptions {
  /**
   * Which era to speak. `"auto"` probes (`server/discover`, or a cached verdict);
   * `"legacy"` or `"modern"` skip the probe and the cache and never switch. Default:
   * `"legacy"` for `connectStdio`, `connectWs` and `connectHttp` (as before the option
   * existed), `"auto"` for `connectAuto`, `connectAutoStdio` and `connectAutoHttp`.
   */
  readonly era?: ClientEra
  /** Which server this is, for the era cache. Default: stdio its command line, HTTP its origin, otherwise none (nothing cached). */
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
}

/** What `openClient` reads of a helper's options; the rest goes to the wire's sessions as it is. */
export interface OpenClientOptions extends ClientEraOptions, ClientNodeOptions {
  readonly clock?: EraProberOptions["clock"]
  readonly clientInfo?: EraProberOptions["clientInfo"]
  readonly capabilities?: EraProberOptions["capabilities"]
  /** The actor whose children the client's charts are (a host's server connection); the caller then owns the client. */
  readonly actorParent?: AnyActorRef
}

/** A legacy session started on a wire (its handshake under way), and what ending it releases. */
export interface LegacyStart {
  readonly session: ClientSession | HttpClientSession
  /** Settles with the handshake. */
  readonly ready: Promise<unknown>
  /** What the client releases once its session closed (the transport, or nothing over HTTP). */
  readonly release: () => Promise<void>
  /** What the node's scope releases when it closes (default `release`). */
  readonly releaseScope?: () => Promise<void>
  /** The handshake failed: release what the session held. */
  readonly failed: () => Promise<void>
  /** The endpoint, for HTTP. */
  readonly url?: URL
}

/** The dual-era side of a wire: how the probe asks, how each era's client is opened, and what closing releases. */
export interface DualEraStart {
  readonly sendDiscover: SendDiscover
  /** The era-cache key (none: nothing cached). */
  readonly key: string | undefined
  readonly backend: EraBackend
  /** The era's client for a verdict, or the error that says the verdict did not hold. */
  readonly openSide: (verdict: EraVerdict) => Promise<Side>
  /** Whether a failed cached verdict may be probed again (the shared transport is still up). */
  readonly canRetry: () => boolean
  /** Release what the wire holds (the shared transport). */
  readonly release: () => Promise<void>
}

/**
 * How one transport family reaches a server in each era: a message transport
 * (`messageClientWire`, connectAuto.ts: stdio, WebSocket, memory) or Streamable HTTP
 * (`httpClientWire`, connectAutoHttp.ts).
 */
export interface ClientWire<O extends OpenClientOptions> {
  readonly kind: TransportKind
  /** Settles once the transport is open (a spawn, a socket upgrade); its rejection is the connect's. */
  readonly opened?: Promise<unknown>
  /** Close the transport when no client was built on it. */
  readonly close: () => Promise<void>
  /** A legacy session, no probe. `node` is undefined when the caller owns the client (`actorParent`). */
  legacy(options: O, node: ClientConnection | undefined): LegacyStart
  /** The probe and both eras' clients; `transportClosed` tells the node the shared transport ended. */
  dualEra(options: O, transportClosed: ClientConnection["transportClosed"] | undefined): DualEraStart
}

/**
 * The one client over `wire`, in the era `options.era` says (default `"auto"`): see the
 * module comment. Rejects with the handshake's `ConnectError`, a modern error from a
 * retried discover, or the wire's own failure to open (a `SpawnError`, a
 * `WsConnectError`); whatever fails, the transport is released.
 */
export const openClient = async <O extends OpenClientOptions>(wire: ClientWire<O>, options: O): Promise<Client> => {
  // Given a parent (a host's server connection), the caller owns the client; else it is a supervised node.
  const node = options.actorParent === undefined ? openClientConnection(wire.kind, options) : undefined
  // The session's deadlines (and a probe's) run on the runtime's clock unless given one.
  const opts: O = node === undefined ? options : { ...options, actorParent: node.actor, clock: options.clock ?? node.runtime.clock }
  if (wire.opened !== undefined) {
    try {
      await wire.opened
    } catch (e) {
      if (node !== undefined) await node.abandon("transport failed to open", wire.close)
      else await wire.close()
      throw e
    }
  }
  return (options.era ?? "auto") === "legacy" ? openLegacy(wire, opts, node) : openDualEra(wire, opts, node)
}

const openLegacy = async <O extends OpenClientOptions>(wire: ClientWire<O>, options: O, node: ClientConnection | undefined): Promise<Client> => {
  const start = wire.legacy(options, node)
  const client = Client.legacy(start.session, start.release, start.url)
  if (node !== undefined) {
    try {
      node.supervise(client, start.releaseScope ?? start.release)
    } catch (e) {
      // The runtime is shutting down: the session was closed with the node.
      await start.ready.catch(() => {})
      throw e
    }
  }
  // A failed handshake ends the session (and, on a node, its scope, which releases the transport).
  return start.ready.then(() => client, async (e) => {
    await start.failed()
    throw e
  })
}

const openDualEra = async <O extends OpenClientOptions>(wire: ClientWire<O>, options: O, node: ClientConnection | undefined): Promise<Client> => {
  const side = wire.dualEra(options, node?.transportClosed)
  const era = options.era ?? "auto"
  // The one place a prober is built: forced era, cache, versions, deadline, declared client.
  const prober = new EraProber({
    sendDiscover: side.sendDiscover,
    ...(era !== "auto" ? { era } : {}),
    ...(side.key !== undefined ? { key: side.key, cache: options.cache ?? defaultEraCache } : {}),
    ...(options.modernVersions ? { modernVersions: options.modernVersions } : {}),
    ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {}),
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
    ...(options.clientInfo ? { clientInfo: options.clientInfo } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.actorParent !== undefined ? { actorParent: options.actorParent } : {})
  })
  let client: Client
  try {
    client = await openForVerdict(
      prober,
      async (verdict) =>
        new Client(prober, { ...side.backend, ...(node !== undefined ? { closing: node.closeRequested } : {}) }, await side.openSide(verdict), verdict, options.onDiagnostic),
      { onDiagnostic: options.onDiagnostic, canRetry: () => side.canRetry() && !prober.forced }
    )
  } catch (e) {
    prober.stop()
    if (node !== undefined) await node.abandon("connect failed", side.release)
    else await side.release()
    throw e
  }
  node?.supervise(client, side.release)
  return client
}
