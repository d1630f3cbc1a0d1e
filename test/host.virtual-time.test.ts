/**
 * The host's own timing logic runs on its one clock (HostOptions.clock, issue
 * 10 "timing logic runs on virtual time", issue 13 "one clock"): catalog-change
 * coalescing and `startHost`'s settle timeout. The upstream processes are real;
 * every interval the host measures is virtual, set to 10 minutes so a real timer
 * could never satisfy these tests (they take seconds of real time).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { type HostEvent, type McpHost, startHost } from "../src/host/McpHost.ts"
import { parseHostConfig } from "../src/host/config.ts"
import { ServerUnavailable } from "../src/host/errors.ts"
import { ServerConnection } from "../src/host/ServerConnection.ts"
import { armedClock, countingClock } from "./support/countingClock.ts"
import { hostReaches } from "./support/hostEvents.ts"

const VARIABLE = fileURLToPath(new URL("./fixtures/host-variable-server.ts", import.meta.url))
const TEN_MINUTES = 10 * 60_000
const dir = mkdtempSync(join(tmpdir(), "host-virtual-time-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Event-loop turns (no real time): lets promise chains waiting on a fired timer run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

describe("host timers on the host's clock", { timeout: 60_000 }, () => {
  it("catalog changes coalesce for coalesceMs of the host's clock: one change event, exactly when it elapses", async () => {
    const toolsFile = join(dir, "tools.json")
    writeFileSync(toolsFile, JSON.stringify(["a", "b"]))
    const { clock, increment } = countingClock()
    const changes: Array<Extract<HostEvent, { type: "change" }>> = []
    const host = await startHost({ mcpServers: { variable: { command: process.execPath, args: [VARIABLE, toolsFile] } } }, {
      stateFile: false,
      clock,
      coalesceMs: TEN_MINUTES
    })
    host.on("change", (e) => void changes.push(e))
    try {
      // The process is real: wait for its tools to be advertised (the burst that arms the coalescing timer).
      expect(await hostReaches(host, () => host.tools().length === 2, 15_000)).toBe(true)
      await turns()
      expect(changes).toEqual([])
      increment(TEN_MINUTES - 1)
      await turns()
      expect(changes).toEqual([])
      increment(1)
      expect(changes).toHaveLength(1)
      expect([...changes[0]!.added].sort()).toEqual(["variable__a", "variable__b"])
      expect(changes[0]!.removed).toEqual([])
    } finally {
      await host.close()
    }
  })

  it("startHost waits for a server that never answers for startTimeoutMs of the host's clock, then returns", async () => {
    // Tells the test when the settle timeout is armed, so time moves only after it is.
    const { sim, clock, armed: settleArmed } = armedClock(TEN_MINUTES)
    let host: McpHost | undefined
    // Never answers `initialize` (and its connect timeout, an hour of the same clock, is never reached).
    const starting = startHost({
      mcpServers: { silent: { command: process.execPath, args: ["-e", "process.stdin.resume()"], timeouts: { connect: 3_600_000 } } }
    }, { stateFile: false, clock, startTimeoutMs: TEN_MINUTES }).then((h) => (host = h))
    try {
      await settleArmed
      sim.increment(TEN_MINUTES - 1)
      await turns()
      expect(host).toBeUndefined()
      sim.increment(1)
      await starting
      expect(host!.status().find((s) => s.name === "silent")!.state).toMatch(/^(starting|initializing)$/)
    } finally {
      await (host ?? await starting).close()
    }
  })

  it("an upstream call's deadline (timeouts.call) runs on the host's clock: the call fails when it elapses, not on the wall clock", async () => {
    const DEMO = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
    const { clock, increment } = countingClock()
    const host = await startHost({
      mcpServers: { demo: { command: process.execPath, args: [DEMO, "serve", "--stdio"], timeouts: { call: TEN_MINUTES, connect: TEN_MINUTES } } }
    }, { stateFile: false, clock })
    try {
      expect(await hostReaches(host, () => host.tools().some((t) => t.name === "demo__slow"), 15_000)).toBe(true)
      let outcome: unknown
      // The demo answers after ten real minutes: only the deadline can end this call within the test.
      const calling = host.callTool("demo__slow", { ms: 600_000 }).then((r) => (outcome = r), (e: unknown) => (outcome = e))
      await turns(20)
      increment(TEN_MINUTES - 1)
      await turns(20)
      expect(outcome).toBeUndefined()
      increment(1)
      await calling
      expect(outcome).toBeInstanceOf(Error)
      expect(String((outcome as Error).message)).toMatch(/time|deadline/i)
    } finally {
      await host.close()
    }
  })

  it("a call's wait for its server to be ready gives up after waitMs of the host's clock", async () => {
    const sim = countingClock()
    const [config] = parseHostConfig({ mcpServers: { slow: { command: process.execPath, args: ["-e", ""] } } }).servers
    // Never opened: the connection only waits (nothing spawned), on the host's clock.
    const conn = new ServerConnection(config!, {
      send: () => {},
      now: sim.clock.now,
      clock: sim.clock,
      stateFile: undefined,
      clientInfo: { name: "test", version: "0" },
      onListing: () => {},
      onNotification: () => {},
      onInput: () => Promise.reject(new Error("no input here"))
    })
    let outcome: unknown
    const waiting = conn.acquire(TEN_MINUTES).then((r) => (outcome = r), (e: unknown) => (outcome = e))
    sim.increment(TEN_MINUTES - 1)
    await turns()
    expect(outcome).toBeUndefined()
    sim.increment(1)
    await waiting
    expect(outcome).toBeInstanceOf(ServerUnavailable)
    expect((outcome as Error).message).toContain("slow did not start")
    expect(sim.pending).toBe(0)
  })
})
