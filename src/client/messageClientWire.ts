/**
 * A message transport (stdio, WebSocket, memory) as a `ClientWire` (clientConnection.ts):
 * how `openClient` reaches a server on it in each era. Legacy: a session straight on the
 * transport. Probed or modern: one started transport shared, as a `TransportHub`, by the
 * probe (`probe-N` ids), the modern client (`mN`) and a legacy session (numbers), so a
 * stdio child survives the hand-over from the probe to the era's client (and back, when
 * a cached verdict is wrong; 2026-07-28/basic/transports/stdio.mdx:L121-L147).
 *
 * @since 0.3.0
 */
import type { AnyActorRef } from "xstate"
import { decodeText, type RequestId, request as makeRequest } from "../protocol/jsonrpc.ts"
import { ConnectionLost } from "../protocol/requestErrors.ts"
import type { Transport } from "../transports/Transport.ts"
import type { EraBackend, Side } from "./Client.ts"
import type { ClientEraOptions, ClientWire } from "./clientConnection.ts"
import type { ClientRuntimeOptions } from "./clientNode.ts"
import { ClientSession, type ClientSessionOptions } from "./ClientSession.ts"
import { modernClientOptions } from "./DualEraClient.ts"
import type { EraVerdict, SendDiscover } from "./EraProber.ts"
import { ModernClient } from "./ModernClient.ts"
import { type HubView, TransportHub } from "./TransportHub.ts"

export interface AutoConnectOptions extends ClientSessionOptions, ClientRuntimeOptions, ClientEraOptions {
  /** The actor whose children the client's charts are (probe, modern client, legacy session); the caller then owns the client. */
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
 * A message transport (stdio, WebSocket, memory; created, not started) as a `ClientWire`:
 * a legacy session straight on it, or — when the era is probed or modern — a
 * `TransportHub` shared by the probe, the modern client and a legacy session (a stdio
 * child survives the hand-over). `opened`: what the transport must do first (a spawn,
 * a socket upgrade).
 */
export const messageClientWire = (transport: Transport, opened?: Promise<unknown>): ClientWire<AutoConnectOptions> => ({
  kind: transport.kind,
  ...(opened !== undefined ? { opened } : {}),
  close: () => transport.close(),
  legacy: (options, node) => {
    const release = () => transport.close()
    const { session, ready } = ClientSession.open(transport, options, node?.lifecycle ?? { actorParent: options.actorParent })
    return {
      session,
      ready,
      release,
      failed: async () => {
        await session.ended
        await release()
      }
    }
  },
  dualEra: (options, transportClosed) => {
    const hub = new TransportHub(transport, transportClosed)
    hub.start()
    const views = new Map<ModernClient, HubView>()
    return {
      sendDiscover: discoverOverHub(hub),
      key: options.key,
      backend: hubBackend(hub, options, views),
      openSide: (verdict) => tryVerdict(hub, options, verdict, views),
      canRetry: () => hub.closed === undefined,
      release: () => hub.close()
    }
  }
})
