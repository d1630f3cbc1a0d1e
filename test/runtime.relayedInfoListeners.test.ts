/**
 * `RelayedInfoListeners`: the one relay used by `Client` (over the session of its era) and the host's
 * `UpstreamGeneration` (over its client). The wrapped source is listened to only while the wrapper has
 * listeners; a change of the source is told as the wrapper's (its own info, built only for a listener
 * that takes summaries); switching the source moves the relay.
 */
import { describe, expect, it } from "vitest"
import { InfoListeners, RelayedInfoListeners, type SessionInfo } from "../src/runtime/SessionHandle.ts"

const info = (id: string): SessionInfo => ({
  id,
  role: "client",
  era: "legacy",
  protocolVersion: undefined,
  state: "ready",
  transport: "memory",
  peer: undefined,
  inFlight: 0,
  startedAt: 0
})

/** A wrapped handle: its own listeners, and a count of the summaries built for them. */
const source = (id: string, withSignals: boolean) => {
  const listeners = new InfoListeners()
  let built = 0
  const handle = { info: () => (built++, info(id)) }
  return {
    change: () => listeners.notify(handle),
    get listened() {
      return listeners.size
    },
    get built() {
      return built
    },
    subscribe: (l: (i: SessionInfo) => void) => listeners.add(l),
    ...(withSignals ? { onInfoChange: (l: () => void) => listeners.addSignal(l) } : {})
  }
}

describe("RelayedInfoListeners", () => {
  it("listens to its source only while it has listeners, tells the owner's info, and builds none of the source's", () => {
    const owner = { info: () => info("owner") }
    const relay = new RelayedInfoListeners(owner)
    const a = source("a", true)
    relay.relayFrom(a)
    expect(a.listened).toBe(0)
    const heard: Array<string> = []
    const off = relay.add((i) => heard.push(i.id))
    const offSignal = relay.addSignal(() => heard.push("signal"))
    expect(a.listened).toBe(1)
    a.change()
    expect(heard).toEqual(["signal", "owner"])
    expect(a.built).toBe(0)
    off()
    expect(a.listened).toBe(1)
    offSignal()
    expect(a.listened).toBe(0)
    a.change()
    expect(heard).toEqual(["signal", "owner"])
  })

  it("moves the relay when the source changes, and stops it for none; a source without signals is subscribed", () => {
    const relay = new RelayedInfoListeners({ info: () => info("owner") })
    const a = source("a", true)
    const b = source("b", false)
    const heard: Array<string> = []
    relay.addSignal(() => heard.push("changed"))
    relay.relayFrom(a)
    expect(a.listened).toBe(1)
    relay.relayFrom(b)
    expect(a.listened).toBe(0)
    expect(b.listened).toBe(1)
    a.change()
    b.change()
    expect(heard).toEqual(["changed"])
    relay.relayFrom(undefined)
    expect(b.listened).toBe(0)
    b.change()
    expect(heard).toEqual(["changed"])
  })
})
