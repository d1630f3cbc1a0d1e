/**
 * A `subscriptions/listen` stream is a node of its client's tree, and its
 * reconnection delay is the chart's own: the one backoff with the one jitter
 * (`src/protocol/backoff.ts`), the random draw taken from a seed in the chart's
 * context (issue 13: "guards and delays read only context and events", "one
 * actor tree", "one backoff"). Memory transport, virtual time.
 *
 * Before: the stream's actor was a root (no client observer saw it) and its
 * delay was overridden by the runtime with `Math.random` and class state.
 */
import { describe, expect, it } from "vitest"
import { type AnyActorRef, type InspectionEvent, SimulatedClock } from "xstate"
import { LISTEN_JITTER, listenJitterDraw, type ListenStreamContext, listenReconnectDelay } from "../machines/listenStream.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { jittered } from "../src/protocol/backoff.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { filtered, flush } from "./support/wireTap.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"


/**
 * A modern client with its own inspect observer, against our server. The server's listen
 * traffic is tapped: `teardown()` ends the current listen; with `silentAfterFirst` the
 * reconnections are swallowed (never acknowledged), so losses add up within one outage.
 */
const setup = (options: { readonly silentAfterFirst?: boolean } = {}) => {
  const clock = new SimulatedClock()
  let teardown: (() => void) | undefined
  let listens = 0
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const server = new McpServer({ name: "listen", version: "1.0.0" }).tool({ name: "echo" }, () => ({ content: [] }))
  serveTransport(server, filtered(serverSide, (m: JsonRpcMessage, reply) => {
    if (!("method" in m && m.method === "subscriptions/listen" && "id" in m)) return false
    const id = m.id
    // The server's one allowed use of notifications/cancelled: tearing this listen stream down.
    teardown = () => reply({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "overloaded" } })
    return options.silentAfterFirst === true && ++listens > 1
  }))
  const actors: Array<AnyActorRef> = []
  const client = ModernClient.create(clientSide, {
    clock,
    inspect: (event: InspectionEvent) => {
      if (event.type === "@xstate.actor") actors.push(event.actorRef as AnyActorRef)
    }
  })
  return { clock, client, actors, teardown: () => teardown!() }
}

describe("the listen stream: a child of its client, on the chart's own jittered backoff", () => {
  it("one inspect observer on the client sees the listen stream as the client actor's child", async () => {
    const { client, actors } = setup()
    const sub = client.listen({ toolsListChanged: true })
    await sub.acknowledged
    const streams = actors.filter((a) => chartOf(a) === "listenStream")
    expect(streams).toHaveLength(1)
    expect(parentOf(streams[0]!)).toBe(client.chart)
    expect(streams[0]!.getSnapshot().value).toBe("listening")
    await client.close()
    expect((await sub.ended).state).toBe("closed")
    expect(streams[0]!.getSnapshot().status).toBe("done")
  })

  it("each reconnection waits jittered(backoff(attempt), LISTEN_JITTER, the chart's draw) of the client's clock", async () => {
    const { clock, client, actors, teardown } = setup({ silentAfterFirst: true })
    const sub = client.listen({ toolsListChanged: true }, { baseDelayMs: 1_000, maxDelayMs: 30_000 })
    await sub.acknowledged
    const stream = actors.find((a) => chartOf(a) === "listenStream")!
    const context = () => stream.getSnapshot().context as ListenStreamContext
    expect(context().jitter).toBe(LISTEN_JITTER)
    const waits: Array<number> = []
    const draws = new Set<number>()
    for (const attempt of [1, 2, 3]) {
      // Lose the stream without an acknowledgement in between (attempts grow): the first while
      // listening, the next ones as soon as the new request is out.
      teardown()
      await flush()
      expect(sub.state).toBe("waiting")
      expect(context().attempts).toBe(attempt)
      const draw = listenJitterDraw(context().seed, attempt)
      const expected = jittered(listenReconnectDelay(attempt, 1_000, 30_000), LISTEN_JITTER, draw)
      draws.add(draw)
      expect(expected).toBeGreaterThanOrEqual(listenReconnectDelay(attempt, 1_000, 30_000) * (1 - LISTEN_JITTER))
      expect(expected).toBeLessThanOrEqual(listenReconnectDelay(attempt, 1_000, 30_000) * (1 + LISTEN_JITTER))
      clock.increment(expected - 1)
      await flush()
      expect(sub.state).toBe("waiting")
      clock.increment(1)
      await flush()
      expect(sub.state).toBe("subscribing") // the next request is out (and left unanswered)
      waits.push(expected)
    }
    expect(draws.size).toBe(3) // a fresh draw per attempt
    expect(waits).not.toEqual([1_000, 2_000, 4_000]) // jittered, not the bare backoff
    await client.close()
  })

  it("jitter: false waits exactly the backoff", async () => {
    const { clock, client, teardown } = setup()
    const sub = client.listen({ toolsListChanged: true }, { baseDelayMs: 1_000, jitter: false })
    await sub.acknowledged
    teardown()
    await flush()
    clock.increment(999)
    await flush()
    expect(sub.state).toBe("waiting")
    clock.increment(1)
    await flush()
    expect(sub.state).not.toBe("waiting")
    await client.close()
  })
})
