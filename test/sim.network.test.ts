/**
 * The simulated network the deterministic simulation runs on (test/sim/SimNetwork.ts):
 * ordering, graceful close after the frames sent before it, crashes (reset or
 * half-open), refused connections. Virtual time: xstate's SimulatedClock.
 */
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import type { TransportClosed } from "../src/transports/Transport.ts"
import { makePrng } from "./sim/Prng.ts"
import { type NetworkProfile, type SimEndpoint, SimNetwork } from "./sim/SimNetwork.ts"
import { Trace } from "./sim/Trace.ts"

const profile = (overrides: Partial<NetworkProfile> = {}): NetworkProfile => ({
  name: "test", minDelayMs: 1, maxDelayMs: 50, dropRate: 0, duplicateRate: 0, fifo: true, halfOpenRate: 0, ...overrides
})

const setup = (p: NetworkProfile, seed = 1) => {
  const clock = new SimulatedClock()
  const trace = new Trace(() => clock.now())
  const network = new SimNetwork(makePrng(seed), clock, () => clock.now(), trace, p)
  const accepted: Array<SimEndpoint> = []
  network.listen((endpoint) => void accepted.push(endpoint))
  return { clock, network, accepted, trace }
}

const record = (endpoint: SimEndpoint) => {
  const frames: Array<number> = []
  const closes: Array<TransportClosed> = []
  endpoint.start({
    onFrame: (text) => void frames.push((JSON.parse(text) as { params: { n: number } }).params.n),
    onOversized: () => {},
    onClose: (c) => void closes.push(c)
  })
  return { frames, closes }
}

const note = (n: number): JsonRpcMessage => ({ jsonrpc: "2.0", method: "n", params: { n } })

describe("SimNetwork", () => {
  it("an ordered profile delivers in send order; an unordered one lets frames overtake", () => {
    for (const fifo of [true, false]) {
      const { clock, network, accepted } = setup(profile({ fifo }))
      const client = network.connect("c")
      const server = record(accepted[0]!)
      record(client)
      for (let n = 0; n < 50; n++) client.send(note(n))
      clock.increment(1_000)
      expect([...server.frames].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, n) => n))
      if (fifo) expect(server.frames).toEqual(Array.from({ length: 50 }, (_, n) => n))
      else expect(server.frames).not.toEqual(Array.from({ length: 50 }, (_, n) => n))
    }
  })

  it("a graceful close reaches the peer after every frame sent before it", async () => {
    const { clock, network, accepted } = setup(profile())
    const client = network.connect("c")
    const server = record(accepted[0]!)
    const mine = record(client)
    for (let n = 0; n < 10; n++) client.send(note(n))
    const closed = client.close()
    client.send(note(99)) // after close: dropped
    clock.increment(1_000)
    await closed
    expect(server.frames).toEqual(Array.from({ length: 10 }, (_, n) => n))
    expect(server.closes).toEqual([{ expected: true, reason: "peer closed" }])
    expect(mine.closes).toEqual([{ expected: true, reason: "closed" }])
    expect(network.openLinks()).toEqual([])
    expect(network.scheduled).toBe(0)
  })

  it("a crash loses what is in flight: the crashed end closes at once, the peer is reset, or never told (half-open)", () => {
    for (const halfOpenRate of [0, 1]) {
      const { clock, network, accepted } = setup(profile({ halfOpenRate }))
      const client = network.connect("c")
      const server = record(accepted[0]!)
      const mine = record(client)
      client.send(note(1))
      network.crash(client.link, "client")
      clock.increment(1_000)
      expect(server.frames).toEqual([])
      expect(mine.closes).toEqual([{ expected: false, reason: "crashed" }])
      if (halfOpenRate === 0) expect(server.closes).toEqual([{ expected: false, reason: "connection reset by peer" }])
      else {
        expect(server.closes).toEqual([])
        accepted[0]!.send(note(2)) // into the void
        expect(network.sendsAfterClose).toBe(1)
      }
    }
  })

  it("while the server is down a connection is refused; afterwards it is accepted", () => {
    const { clock, network, accepted } = setup(profile())
    network.crashServer(500)
    const refused = record(network.connect("c1"))
    clock.increment(100)
    expect(refused.closes).toEqual([{ expected: false, reason: "connection refused" }])
    expect(accepted).toHaveLength(0)
    clock.increment(500)
    network.connect("c2")
    expect(accepted).toHaveLength(1)
  })

  it("the same seed makes the same decisions (trace hash); another seed does not", () => {
    const run = (seed: number) => {
      const { clock, network, accepted, trace } = setup(profile({ fifo: false, dropRate: 0.2, duplicateRate: 0.2 }), seed)
      const client = network.connect("c")
      record(accepted[0]!)
      record(client)
      for (let n = 0; n < 30; n++) client.send(note(n))
      clock.increment(1_000)
      return trace.digest()
    }
    expect(run(7)).toBe(run(7))
    expect(run(7)).not.toBe(run(8))
  })
})
