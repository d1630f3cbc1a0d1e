/**
 * Hostile servers against the host (issue s23): a real stdio child per server
 * (`fixtures/hostile-stdio-server.mjs`, one misbehaviour each) beside a well-behaved
 * one, on the host's own clock (a counting `SimulatedClock`) so every interval the
 * host measures is virtual. What must hold: the hostile server's damage stays its own
 * (typed errors, its listing bounded), the other server works, nothing loops.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { MAX_LISTING_ENTRIES } from "../src/host/Catalog.ts"
import { RELIST_BURST, RELIST_WINDOW_MS } from "../src/host/relistBudget.ts"
import { STDERR_TAIL_LINE_CHARS, STDERR_TAIL_LINES } from "../src/host/ServerConnection.ts"
import { countingClock } from "./support/countingClock.ts"
import { childProcesses } from "./support/handles.ts"
import { hostReaches } from "./support/hostEvents.ts"

const HOSTILE = fileURLToPath(new URL("./fixtures/hostile-stdio-server.mjs", import.meta.url))

/** Event-loop turns (no real time): lets promise chains waiting on a fired timer run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

const startPair = async (mode: string, clock: ReturnType<typeof countingClock>["clock"]): Promise<McpHost> =>
  startHost({
    mcpServers: {
      bad: { command: process.execPath, args: [HOSTILE, ...mode.split(" ")] },
      good: { command: process.execPath, args: [HOSTILE, "plain"] }
    }
  }, { stateFile: false, clock, onStderr: () => {} })

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ text?: string }>).map((c) => c.text ?? "").join("")

describe("hostile servers: the host", { timeout: 30_000 }, () => {
  it("list_changed after every tools/list: none is lost, and re-listing is bounded by the relist budget on the host's clock", async () => {
    const { clock, increment } = countingClock()
    const host = await startPair("list-changed-loop", clock)
    // The connection's listing is set before the host's `listing` event (the catalog after it).
    const badTools = () => (host.connection("bad")?.listing?.tools ?? []).map((t) => `bad__${t.name}`)
    try {
      // The server answers listing n with tool `t<n>`, then says its list changed. The
      // notification that follows the handshake's listing must not be dropped (it was: the
      // catalog stayed at t1): the host lists again, up to the budget, at once.
      expect(await hostReaches(host, () => badTools()[0] === `bad__t${RELIST_BURST}`, 15_000)).toBe(true)
      // Then nothing more until the window has passed on the host's clock: the call is
      // answered after any listing the host would have sent (stdio keeps order).
      await turns()
      expect(textOf(await host.callTool("bad__t4", {}))).toBe(`lists=${RELIST_BURST}`)
      increment(RELIST_WINDOW_MS - 1)
      await turns()
      expect(textOf(await host.callTool("bad__t4", {}))).toBe(`lists=${RELIST_BURST}`)
      increment(1)
      expect(await hostReaches(host, () => badTools()[0] === `bad__t${2 * RELIST_BURST}`, 15_000)).toBe(true)
      await turns()
      expect(textOf(await host.callTool(`bad__t${2 * RELIST_BURST}`, {}))).toBe(`lists=${2 * RELIST_BURST}`)
      // The other server is untouched.
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
    } finally {
      await host.close()
    }
  })

  it("malformed entries in tools/list are left out and reported; the server's good tools and the other server stay up", async () => {
    const { clock } = countingClock()
    const host = await startPair("bad-tools", clock)
    try {
      const bad = host.connection("bad")!
      // It was: the first `null` entry threw in the listing hash, the handshake failed, and the server
      // went round restarting with no tools at all.
      expect(host.status().find((s) => s.name === "bad")?.state).toBe("ready")
      // A name outside SEP-986 is advertised with its space and slash as `_`, and still reaches the server.
      expect(host.tools().map((t) => t.name).sort()).toEqual(["bad__bad_name_x", "bad__ok", "good__echo"])
      expect(textOf(await host.callTool("bad__bad_name_x", {}))).toBe("called bad name/x")
      expect(bad.listingProblems).toEqual([
        "tools: not an object (×3)",
        "tools: no string name",
        "tools: tool \"noschema\": inputSchema is not an object schema"
      ])
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
    } finally {
      await host.close()
    }
  })

  it("a nextCursor that never ends: listing stops at the first repeated cursor, and says so", async () => {
    const { clock } = countingClock()
    const host = await startPair("endless-cursor", clock)
    try {
      // It was: 100 pages of the same cursor, taken as a complete listing.
      expect(host.tools().map((t) => t.name).sort()).toEqual(["bad__t1", "bad__t2", "good__echo"])
      expect(host.connection("bad")!.listingProblems).toEqual(["tools/list: the server repeated a cursor, listing stopped"])
    } finally {
      await host.close()
    }
  })

  it("a flood of roots/list (and elicitation, sampling) from one server: its roots are gathered once at a time, not once per request", async () => {
    const { clock } = countingClock()
    const host = await startPair("input-flood", clock)
    let asked = 0
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    // A roots source as a gateway adds one: each ask is a request to every downstream client.
    host.addRootsSource(async () => {
      asked++
      await gate
      return [{ uri: "file:///work" }]
    })
    try {
      // The server writes 2 000 requests (667 of them roots/list), then answers the call: by then
      // every roots/list has reached the host (stdio keeps order).
      expect(textOf(await host.callTool("bad__echo", {}))).toMatch(/^flooded after \d+ answers$/)
      await turns()
      // It was 667: one fan-out to every downstream client per roots/list.
      expect(asked).toBe(1)
      open()
      expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
      expect(await host.rootsFor("bad")).toEqual([{ uri: "file:///work" }])
    } finally {
      await host.close()
    }
  })

  it("thousands of tools are advertised; beyond 10 000 per server the rest are left out and reported", async () => {
    const { clock } = countingClock()
    for (const [count, kept] of [[5_000, 5_000], [20_000, MAX_LISTING_ENTRIES]] as const) {
      const host = await startPair(`many-tools ${count}`, clock)
      try {
        expect(host.tools().filter((t) => t.name.startsWith("bad__"))).toHaveLength(kept)
        expect(host.connection("bad")!.listingProblems).toEqual(count > kept ? [`tools: more than ${MAX_LISTING_ENTRIES} entries, the rest left out`] : [])
        expect(textOf(await host.callTool("good__echo", {}))).toBe("echo")
      } finally {
        await host.close()
      }
    }
  })

  it("tools named like Object.prototype members (no prefix) are advertised and routed by the host and its gateway", async () => {
    const { clock } = countingClock()
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]
    const host = await startHost({
      mcpServers: {
        bad: { command: process.execPath, args: [HOSTILE, "proto-tools"], toolPrefix: "" },
        good: { command: process.execPath, args: [HOSTILE, "plain"] }
      }
    }, { stateFile: false, clock, onStderr: () => {} })
    const gateway = await serveGatewayHttp(makeGateway(host), { port: 0 })
    const client = await connectHttp(gateway.url)
    try {
      expect(((await client.listTools()).tools as ReadonlyArray<{ name: string }>).map((t) => t.name).sort()).toEqual([...names, "good__echo"].sort())
      for (const name of names) {
        expect(textOf(await host.callTool(name, {}))).toBe(`called ${name}`)
        expect(textOf(await client.callTool(name, {}))).toBe(`called ${name}`)
      }
      await expect(client.callTool("nope", {})).rejects.toThrow('unknown tool "nope"')
    } finally {
      await client.close()
      await gateway.close()
      await host.close()
    }
  })

  it("a server that writes megabyte lines to stderr: the host keeps a short tail of short lines", async () => {
    const { clock } = countingClock()
    let heard = 0
    let allHeard!: () => void
    const heardAll = new Promise<void>((resolve) => (allHeard = resolve))
    const host = await startHost({
      mcpServers: { bad: { command: process.execPath, args: [HOSTILE, "stderr-flood"] }, good: { command: process.execPath, args: [HOSTILE, "plain"] } }
    }, { stateFile: false, clock, onStderr: (server) => void (server === "bad" && ++heard === 25 && allHeard()) })
    try {
      expect(textOf(await host.callTool("bad__echo", {}))).toBe("after the flood")
      // stderr and stdout are separate pipes: wait until all 25 lines were heard.
      await heardAll
      const tail = host.connection("bad")!.stderrTail
      // It was: the last 20 lines whole, 20 MB held for the host's lifetime.
      expect(tail).toHaveLength(STDERR_TAIL_LINES)
      for (const line of tail) expect(line).toBe(`${"e".repeat(STDERR_TAIL_LINE_CHARS)}…`)
    } finally {
      await host.close()
    }
  })

  it("after all of the above: no child process is left (each host's close reaped its servers' groups)", () => {
    expect(childProcesses()).toEqual([])
  })
})
