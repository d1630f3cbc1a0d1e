/**
 * `ModernClient` runs each request on the `outboundRequest` chart in its `requests` child
 * (`machines/outboundRequests.ts`). Model-based: every `xstate/graph` path of the chart over
 * response, error, progress, cancel and deadline events is played against a scripted modern
 * peer over a real WebSocket, on the client's `SimulatedClock`; the caller's outcome, the
 * cancellations on the wire and the progress reports must be those of an actor of the chart
 * given the same events (test/support/requestChartOverWire.ts).
 */
import { afterEach, describe, expect, it } from "vitest"
import { type AnyActorRef, SimulatedClock } from "xstate"
import type { WebSocketServer } from "ws"
import { ModernClient } from "../src/client/ModernClient.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"
import { closePeers, playRequestPaths, requestPathsOverWire, scriptedWsPeer } from "./support/requestChartOverWire.ts"

const paths = requestPathsOverWire()

describe("ModernClient: each request follows the outboundRequest chart (in the requests child)", () => {
  const servers: Array<WebSocketServer> = []
  afterEach(() => closePeers(servers))

  it(`each of the chart's ${paths.length} paths: outcome, cancellations on the wire and progress reports are the chart's; no actor per request`, async () => {
    expect(paths.length).toBeGreaterThan(10)
    // A scripted modern peer: answers `tools/list` at once, holds every `tools/call` for the test to answer.
    const peer = await scriptedWsPeer(servers, (m, reply) => m.method === "tools/list" && (reply({ tools: [] }), true))
    const clock = new SimulatedClock()
    const transport = makeWsClientTransport({ url: peer.url })
    await transport.opened
    const actors: Array<string> = []
    const client = ModernClient.create(transport, {
      clock,
      inspect: (e) => {
        if (e.type === "@xstate.actor") actors.push((e.actorRef as AnyActorRef).id)
      }
    })
    await playRequestPaths({
      paths,
      peer,
      clock,
      // `request`, not `callTool`: the scripted results are the chart's, not tool results (whose shape callTool checks).
      call: (options) => client.request("tools/call", { name: "slow", arguments: {} }, options),
      wireRound: () => client.request("tools/list"), // a round trip: everything sent before it has reached the peer
      after: (label) => expect(client.inFlight, label).toBe(0)
    })
    // The client and its requests child: no actor was started for any request.
    expect(actors.length).toBe(2)
    expect(actors[1]).toBe("requests")
    await client.close()
    expect(client.chart.getSnapshot().status).toBe("done")
  })
})
