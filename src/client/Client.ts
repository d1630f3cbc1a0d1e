/**
 * The client: one era-agnostic object whatever the server speaks and whatever the
 * transport. Underneath it is either a legacy session (`ClientSession` over a message
 * transport, `HttpClientSession` over Streamable HTTP) or a `ModernClient` (modern
 * requests over a message transport or a `ModernHttpWire`), chosen by the era probe
 * (`EraProber`, the `eraProbe` chart) or forced by the `era` option.
 *
 * What differs per transport is an `EraBackend`: how a legacy session is opened when a
 * cached modern verdict turns out wrong, how the modern client is let go, which errors
 * are suspect (HTTP adds error statuses) or prove a request was not executed (HTTP adds
 * 4xx), and what closing releases (the shared stdio child, nothing more over HTTP).
 * Its constructors are the `connect*` helpers, each one call of `openClient(wire, { era })`
 * (clientConnection.ts): `connectStdio`, `connectWs` and `connectHttp` (the legacy era, no
 * probe, unless `era` says otherwise) and `connectAuto`, `connectAutoStdio` and
 * `connectAutoHttp` (probe or cache unless `era` says otherwise). It is the handle a runtime supervises (`clientNode.ts`): its
 * `ended`, `info()` and `close()` are those of the client in charge.
 *
 * The verdict rule: a cached "modern" verdict is trusted until a response contradicts it
 * — a result carrying modern markers (or a recognised modern error) confirms it
 * (`VERDICT_CONFIRMED` in the era-probe chart); a non-modern error, silence or an unmarked
 * result re-probes once (`CACHED_VERDICT_FAILED`). If the server is legacy now, the client
 * switches to a legacy session, and a call the server refused without running it is sent
 * again there.
 */
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { Era } from "../protocol/era.ts"
import { MODERN_ERROR_CODES } from "../protocol/errors.ts"
import type { PeerInfo } from "../protocol/implementation.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import { RequestTimeout, RpcError, UnsupportedProtocolVersion } from "../protocol/requestErrors.ts"
import { RelayedInfoListeners, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import type { Transport } from "../transports/Transport.ts"
import type { ClientSession, ClientSessionEvent, RequestOptions, Result } from "./ClientSession.ts"
import type { EraProber, EraVerdict } from "./EraProber.ts"
import type { HttpClientSession } from "./HttpClientSession.ts"
import { LegacyMcpMethods } from "./McpMethods.ts"
import { hasModernMarkers, type ModernClient } from "./ModernClient.ts"
import { MissingClientCapability } from "./modernErrors.ts"

/** JSON-RPC codes meaning the server refused a request without running it: safe to re-send in the other era. */
export const NOT_EXECUTED_CODES: ReadonlySet<number> = new Set([-32601, -32600])

/** The client in charge: a modern client, or a legacy session (over a message transport or HTTP). */
export type Side =
  | { readonly era: "modern"; readonly client: ModernClient }
  | { readonly era: "legacy"; readonly client: ClientSession | HttpClientSession }

/** What the client needs from its transport family (message transport or Streamable HTTP). */
export interface EraBackend {
  /** The legacy session that replaces a modern client when a re-probe says the server is legacy. */
  readonly openLegacy: () => Promise<Side>
  /** Let go of the modern client once the legacy session is in charge (it finishes what it has in flight). */
  readonly releaseModern: (old: ModernClient) => void
  /** Release what the transport family holds once the client in charge closed (the shared stdio child). */
  readonly release: () => Promise<void>
  /** More errors that may mean the server is not modern (HTTP: an error status). */
  readonly isSuspect?: (e: unknown) => boolean
  /** More proofs that the server refused a request without running it (HTTP: a 4xx). */
  readonly notExecuted?: (e: unknown) => boolean
  /** The endpoint, for HTTP. */
  readonly url?: URL
  /** `close()` was called: the local side ends the connection (its node records it). */
  readonly closing?: (reason: string) => void
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The verdict of a client whose era was given (`era: "legacy"`), not probed. */
const givenLegacy: EraVerdict = { era: "legacy", protocolVersion: undefined, basis: { _tag: "Cached" }, retry: false, discover: undefined, fromCache: false }

/**
 * One client whatever the era and the transport: the MCP method surface over whichever
 * era's client is in charge, plus `era`, `client`, `verdict` and `probes`, and the
 * session handle a runtime supervises (`id`, `ended`, `info`, `subscribe`, `close`).
 * Made by the `connect*` helpers.
 */
export class Client extends LegacyMcpMethods<RequestOptions> implements SessionHandle {
  /** The id of the first client in charge (a legacy session's, a modern client's): what the registry lists. */
  readonly id: string
  readonly ended: Promise<SessionEnd>
  protected side: Side
  private verdictValue: EraVerdict
  private verifying: Promise<Era> | undefined
  /** Undefined when the era was given and nothing is ever probed. */
  protected readonly prober: EraProber | undefined
  private readonly backend: EraBackend
  private readonly onDiagnostic: ((message: string) => void) | undefined
  private readonly listeners = new RelayedInfoListeners(this)
  private resolveEnded!: (end: SessionEnd) => void
  private unwatch: () => void = () => {}

  /** @internal built by the `connect*` helpers */
  constructor(prober: EraProber | undefined, backend: EraBackend, side: Side, verdict: EraVerdict, onDiagnostic: ((message: string) => void) | undefined) {
    super()
    this.prober = prober
    this.backend = backend
    this.side = side
    this.id = side.client.id
    this.verdictValue = verdict
    this.onDiagnostic = onDiagnostic
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    this.watch(side)
  }

  /**
   * A client whose era is given as legacy (`connectStdio`, `connectWs`, `connectHttp`):
   * no probe, no switch; `session` may still be in its handshake.
   */
  static legacy(session: ClientSession | HttpClientSession, release: () => Promise<void>, url?: URL): Client {
    const backend: EraBackend = {
      openLegacy: () => Promise.reject(new Error("a legacy client never switches")),
      releaseModern: () => {},
      release,
      ...(url !== undefined ? { url } : {})
    }
    return new Client(undefined, backend, { era: "legacy", client: session }, givenLegacy, undefined)
  }

  /** The side in charge ends the client (a side replaced by a switch does not). */
  private watch(side: Side): void {
    this.unwatch()
    const client = side.client as SessionHandle
    // The side's changes are this client's (relayed only while someone listens to it).
    this.listeners.relayFrom(client)
    let current = true
    this.unwatch = () => {
      current = false
      this.listeners.relayFrom(undefined)
    }
    void client.ended.then((end) => {
      if (current) this.resolveEnded(end)
    })
  }

  /** False while running on a cached modern verdict that no response has confirmed yet (the era-probe chart's `confirmed`). */
  protected get confirmed(): boolean {
    return this.prober?.confirmed ?? true
  }

  /** Errors that may mean the server is not modern (any other error is just an error). */
  protected isSuspect(e: unknown): boolean {
    return e instanceof RpcError || e instanceof RequestTimeout || this.backend.isSuspect?.(e) === true
  }
  /** Whether the server refused the request without running it (so it can be sent again). */
  protected notExecuted(e: unknown): boolean {
    return (e instanceof RpcError && NOT_EXECUTED_CODES.has(e.code)) || this.backend.notExecuted?.(e) === true
  }

  get era(): Era {
    return this.side.era
  }
  /** The client in charge. */
  get client(): Side["client"] {
    return this.side.client
  }
  /** The endpoint (Streamable HTTP only). */
  get url(): URL | undefined {
    return this.backend.url
  }
  /** How the era was decided (the last verdict, after any re-probe). */
  get verdict(): EraVerdict {
    return this.verdictValue
  }
  /** `server/discover` probes sent by this client so far (0 when the cache answered). */
  get probes(): number {
    return this.prober?.probes ?? 0
  }
  /** The state of the client in charge (a legacy session's chart state, or the modern client's). */
  get state(): string {
    return this.side.client.state
  }
  /** The transport of a legacy session (over HTTP: the current generation's); undefined for a modern client. */
  get transport(): Transport | undefined {
    return this.side.era === "legacy" ? this.side.client.transport : undefined
  }
  /** Streamable HTTP, legacy: the session id the server assigned (changes on re-initialization). */
  get sessionId(): string | undefined {
    const c = this.side.client
    return "sessionId" in c ? c.sessionId : undefined
  }
  /** Streamable HTTP, legacy: 1 for the first session, +1 per re-initialization. */
  get generation(): number | undefined {
    const c = this.side.client
    return "generation" in c ? c.generation : undefined
  }

  /** The chart of the client in charge (read-only use: inspection, tests). */
  get chart(): Side["client"]["chart"] {
    return this.side.client.chart
  }

  info(): SessionInfo {
    return { ...(this.side.client as SessionHandle).info(), id: this.id }
  }
  /** A notification to the server (legacy era; the modern era has none a client sends on its own). */
  notify(method: string, params?: Params): void {
    const side = this.side
    if (side.era === "legacy") side.client.notify(method, params)
  }
  subscribe(listener: (info: SessionInfo) => void): () => void {
    return this.listeners.add(listener)
  }
  /** Told of every change with nothing built for it (a relay that builds its own info only when someone listens). */
  onInfoChange(listener: () => void): () => void {
    return this.listeners.addSignal(listener)
  }
  /** State changes and notifications of a legacy client in charge (a modern client has no such events). */
  on(listener: (event: ClientSessionEvent) => void): () => void {
    const side = this.side
    return side.era === "legacy" ? side.client.on(listener) : () => {}
  }
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.side.client.serverCapabilities
  }
  get serverInfo(): PeerInfo | undefined {
    return this.side.client.serverInfo
  }
  get instructions(): string | undefined {
    return this.side.client.instructions
  }
  get protocolVersion(): string | undefined {
    return this.side.client.protocolVersion
  }

  request(method: string, params?: Params, options?: RequestOptions): Promise<Result> {
    const side = this.side
    // Once the era is settled, the era's client answers directly: no async frame of ours per request.
    if (side.era === "legacy" || this.confirmed) {
      try {
        return side.client.request(method, params, options)
      } catch (e) {
        return Promise.reject(e)
      }
    }
    return this.requestUnconfirmed(method, params, options)
  }

  /** A request while a modern server is not yet confirmed: a failure may mean it is legacy after all (re-probe). */
  private async requestUnconfirmed(method: string, params?: Params, options?: RequestOptions): Promise<Result> {
    const side = this.side
    let result: Result
    try {
      result = await side.client.request(method, params, options)
    } catch (e) {
      if (e instanceof MissingClientCapability || e instanceof UnsupportedProtocolVersion || (e instanceof RpcError && MODERN_ERROR_CODES.has(e.code))) {
        this.prober?.confirm() // recognised modern errors: the server is modern
        throw e
      }
      // A non-modern error or silence: is this server still modern?
      if (!this.isSuspect(e)) throw e
      let era: Era
      try {
        era = await this.verify()
      } catch (probeError) {
        this.onDiagnostic?.(`re-probe failed: ${describe(probeError)}`)
        throw e
      }
      if (era === "legacy" && this.side.era === "legacy" && this.notExecuted(e) && !options?.signal?.aborted) {
        return this.side.client.request(method, params, options)
      }
      throw e
    }
    if (hasModernMarkers(result)) this.prober?.confirm()
    else {
      // An unmarked result may come from a legacy server that serves requests without `initialize`.
      await this.verify().catch((e) => this.onDiagnostic?.(`re-probe failed: ${describe(e)}`))
    }
    return result
  }

  /** Re-probe once at a time (CACHED_VERDICT_FAILED); switch to a legacy session when the server is legacy now. */
  protected verify(): Promise<Era> {
    return this.verifying ??= this.reprobe().finally(() => (this.verifying = undefined))
  }

  private async reprobe(): Promise<Era> {
    if (this.confirmed || this.prober === undefined) return this.side.era
    this.onDiagnostic?.("cached modern verdict unconfirmed by the server's answer: probing again")
    const verdict = await this.prober.revoke()
    this.verdictValue = verdict
    const old = this.side
    if (verdict.era === "modern" || old.era === "legacy") {
      if (old.era === "modern" && verdict.discover !== undefined) old.client.recordDiscovery(verdict.discover)
      return verdict.era
    }
    this.side = await this.backend.openLegacy()
    this.watch(this.side)
    // The modern client finishes what it has in flight, then lets go.
    this.backend.releaseModern(old.client)
    return "legacy"
  }

  /** Close the client in charge (legacy over HTTP: DELETE the session) and release the transport. */
  async close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void> {
    this.backend.closing?.(options?.reason ?? "client closed")
    try {
      if (this.verifying !== undefined) await this.verifying.catch(() => {})
      await this.side.client.close(options)
    } finally {
      try {
        await this.backend.release()
      } finally {
        this.prober?.stop()
      }
    }
  }
}
