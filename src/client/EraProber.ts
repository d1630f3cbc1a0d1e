/**
 * Runs the `eraProbe` chart for one server, whatever the wire: the chart
 * decides (cache → probe → modern | legacy, timeout, re-probe on
 * `CACHED_VERDICT_FAILED`), this class executes — it sends `server/discover`
 * through a `SendDiscover` function, feeds the reply back as `DISCOVER_RESULT`
 * / `PROBE_ERROR`, and reads and writes the `EraCache`.
 *
 * `SendDiscover` is the plug for transports: over a message transport it
 * writes a request and waits for the response with that id (connectAuto.ts);
 * over Streamable HTTP it will POST and report the status code (`httpStatus`)
 * along with the body's JSON-RPC error (spec-digest §3.B "Backward compatibility").
 */
import type { Actor, AnyActorRef } from "xstate"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { defaultMcpRuntime, type McpRuntime } from "../runtime/McpRuntime.ts"
import { type EraProbeBasis, eraProbeMachine } from "../../machines/eraProbe.ts"
import type { ClientCapabilities, ServerCapabilities } from "../protocol/capabilities.ts"
import { type Clock, clockOf } from "../protocol/clock.ts"
import type { Era } from "../protocol/era.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import { modernMeta } from "../protocol/modern.ts"
import { MODERN_VERSIONS, type ModernVersion } from "../protocol/versions.ts"
import type { Result } from "./ClientSession.ts"
import type { EraCache } from "./EraCache.ts"

/** What `server/discover` got: a result, or an error (JSON-RPC and/or HTTP status). */
export type ProbeReply =
  | { readonly _tag: "Result"; readonly result: Result }
  | { readonly _tag: "Error"; readonly code?: number; readonly httpStatus?: number; readonly message?: string; readonly data?: unknown }

/**
 * Send `server/discover` with `params` (they carry the modern `_meta`) and
 * resolve with the reply. Reject only when the wire is gone. `signal` aborts
 * when the probe is over without this reply (timeout): stop waiting then.
 */
export type SendDiscover = (params: Params, signal: AbortSignal) => Promise<ProbeReply>

export interface EraVerdict {
  readonly era: Era
  /** Modern: the version to use. */
  readonly protocolVersion: ModernVersion | undefined
  readonly basis: EraProbeBasis
  /** Modern after a recognised modern error: retry (e.g. `server/discover`) with `protocolVersion`. */
  readonly retry: boolean
  /** The DiscoverResult, when the probe got one. */
  readonly discover: Result | undefined
  /** True when the verdict came from the cache (no probe was sent). */
  readonly fromCache: boolean
}

export interface EraProberOptions {
  readonly sendDiscover: SendDiscover
  /**
   * Speak this era, no probe: the chart starts from it as from a cached verdict that
   * needs no confirmation, and the cache is neither read nor written.
   */
  readonly era?: Era
  /** Cache key of this server; without one nothing is read or written. */
  readonly key?: string
  readonly cache?: EraCache
  readonly modernVersions?: ReadonlyArray<ModernVersion>
  readonly probeTimeoutMs?: number
  /** Declared in the probe's `_meta`. */
  readonly capabilities?: ClientCapabilities
  readonly clientInfo?: { readonly name: string; readonly version: string }
  /** The clock of the probe's deadline and of the cache's ages. Default: `runtime`'s. */
  readonly clock?: Clock
  /** Whose clock is the default (`clock`). Default: the process's runtime (`defaultMcpRuntime()`). */
  readonly runtime?: McpRuntime
  /** The actor whose child the probe's chart is (the client's connection node). */
  readonly actorParent?: AnyActorRef
}

type Waiter = { readonly resolve: (v: EraVerdict) => void; readonly reject: (e: unknown) => void }

export class EraProber {
  readonly actor: Actor<typeof eraProbeMachine>
  /** How many `server/discover` probes were sent. */
  probes = 0
  private readonly options: EraProberOptions
  private readonly modernVersions: ReadonlyArray<ModernVersion>
  private inflight: AbortController | undefined
  private discoverResult: Result | undefined
  private waiters: Array<Waiter> = []
  private failure: { readonly error: unknown } | undefined

  constructor(options: EraProberOptions) {
    this.options = options
    this.modernVersions = options.modernVersions ?? MODERN_VERSIONS
    const forced = options.era
    const key = forced === undefined ? options.key : undefined
    const cache = options.cache
    // A verdict's age is read on the client's clock (the runtime's): the cache's TTL is a deadline too.
    const given = options.clock ?? (options.runtime ?? defaultMcpRuntime()).clock
    const clock = clockOf(given)
    const cached = forced !== undefined ? { era: forced } : key !== undefined ? cache?.get(key, clock.now()) : undefined
    const machine = eraProbeMachine.provide({
      actions: {
        sendDiscover: ({ context }) => this.probe(context.modernVersions[0]!),
        cacheVerdict: ({ context }) => {
          if (key === undefined || cache === undefined || context.era === undefined) return
          cache.set(key, context.era === "modern" && context.protocolVersion !== undefined
            ? { era: "modern", protocolVersion: context.protocolVersion }
            : { era: context.era }, clock.now())
        },
        clearCache: () => {
          if (key !== undefined) cache?.delete(key)
        }
      }
    })
    this.actor = createLeanActor(machine, {
      input: {
        ...(cached !== undefined ? { cachedEra: cached.era } : {}),
        modernVersions: cached?.era === "modern" && cached.protocolVersion !== undefined && this.modernVersions.includes(cached.protocolVersion)
          // The version that worked last time goes first.
          ? [cached.protocolVersion, ...this.modernVersions.filter((v) => v !== cached.protocolVersion)]
          : this.modernVersions,
        ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {})
      },
      clock: given,
      ...(options.actorParent !== undefined ? { parent: options.actorParent } : {})
    })
    this.actor.subscribe((snapshot) => {
      if (snapshot.value !== "probing" && this.inflight !== undefined) {
        // Decided (or timed out): stop waiting for the discover reply.
        this.inflight.abort(new Error("probe over"))
        this.inflight = undefined
      }
      if (snapshot.value === "modern" || snapshot.value === "legacy") this.settle()
    })
  }

  /** The verdict: the cached one at once, else once the probe decided. Rejects if the wire died meanwhile. */
  verdict(): Promise<EraVerdict> {
    this.ensureStarted()
    return this.wait()
  }

  /** False while the verdict is a cached modern one that no response has backed yet (the chart's `confirmed`). */
  get confirmed(): boolean {
    return this.actor.getSnapshot().context.confirmed
  }

  /** A response backed the modern verdict (a modern marker or a modern error): `VERDICT_CONFIRMED`. */
  confirm(): void {
    if (this.started && this.actor.getSnapshot().status === "active") this.actor.send({ type: "VERDICT_CONFIRMED" })
  }

  /** The current verdict failed in use: forget it (and its cache entry), probe again. */
  revoke(): Promise<EraVerdict> {
    this.ensureStarted()
    this.failure = undefined
    this.actor.send({ type: "CACHED_VERDICT_FAILED" })
    return this.wait()
  }

  /** True when the era was given (`era` option), not probed. */
  get forced(): boolean {
    return this.options.era !== undefined
  }

  private started = false
  private ensureStarted(): void {
    if (this.started) return
    this.started = true
    this.actor.start()
    // A forced era is not on probation.
    if (this.forced) this.actor.send({ type: "VERDICT_CONFIRMED" })
  }

  stop(): void {
    this.inflight?.abort(new Error("prober stopped"))
    this.inflight = undefined
    this.actor.stop()
    this.fail(new Error("era prober stopped"))
  }

  private wait(): Promise<EraVerdict> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error)
    const value = this.actor.getSnapshot().value
    if (value === "modern" || value === "legacy") return Promise.resolve(this.current())
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  private current(): EraVerdict {
    const c = this.actor.getSnapshot().context
    return {
      era: c.era!,
      protocolVersion: c.protocolVersion,
      basis: c.basis!,
      retry: c.retry,
      discover: c.basis?._tag === "DiscoverResult" ? this.discoverResult : undefined,
      fromCache: c.basis?._tag === "Cached"
    }
  }

  private settle(): void {
    const waiters = this.waiters
    this.waiters = []
    if (waiters.length === 0) return
    const verdict = this.current()
    for (const w of waiters) w.resolve(verdict)
  }

  private fail(error: unknown): void {
    this.failure = { error }
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(error)
  }

  /** The `sendDiscover` action: one `server/discover` with our preferred version in `_meta`. */
  private probe(version: ModernVersion): void {
    const controller = new AbortController()
    this.inflight = controller
    this.discoverResult = undefined
    this.probes++
    const params: Params = {
      _meta: modernMeta(version, this.options.capabilities ?? {}, this.options.clientInfo ?? { name: "mcp-actors", version: "0.1.0" })
    }
    this.options.sendDiscover(params, controller.signal).then(
      (reply) => {
        if (controller.signal.aborted || this.actor.getSnapshot().value !== "probing") return // late: dropped
        if (reply._tag === "Result") {
          const r = reply.result
          this.discoverResult = r
          this.actor.send({
            type: "DISCOVER_RESULT",
            supportedVersions: Array.isArray(r.supportedVersions) ? (r.supportedVersions as ReadonlyArray<string>) : [],
            ...(typeof r.capabilities === "object" && r.capabilities !== null ? { capabilities: r.capabilities as ServerCapabilities } : {}),
            ...(typeof r.instructions === "string" ? { instructions: r.instructions } : {})
          })
        } else {
          this.actor.send({
            type: "PROBE_ERROR",
            ...(reply.code !== undefined ? { code: reply.code } : {}),
            ...(reply.httpStatus !== undefined ? { httpStatus: reply.httpStatus } : {}),
            ...(reply.message !== undefined ? { message: reply.message } : {}),
            ...(reply.data !== undefined ? { data: reply.data } : {})
          })
        }
      },
      (error) => {
        if (controller.signal.aborted) return
        this.inflight = undefined
        this.fail(error)
      }
    )
  }
}
