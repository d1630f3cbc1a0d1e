/**
 * Hostile servers against the host (issue s23): a real stdio child per server
 * (`fixtures/hostile-stdio-server.mjs`, one misbehaviour each) beside a well-behaved
 * one, on the host's own clock (a counting `SimulatedClock`) so every interval the
 * host measures is virtual. What must hold: the hostile server's damage stays its own
 * (typed errors, its listing bounded), the other server works, nothing loops.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { RELIST_BURST, RELIST_WINDOW_MS } from "../src/host/relistBudget.ts"
import { countingClock } from "./support/countingClock.ts"
import { hostReaches } from "./support/hostEvents.ts"

const HOSTILE = fileURLToPath(new URL("./fixtures/hostile-stdio-server.mjs", import.meta.url))

/** Event-loop turns (no real time): lets promise chains waiting on a fired timer run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

const startPair = async (mode: string, clock: ReturnType<typeof countingClock>["clock"]): Promise<McpHost> =>
  startHost({
    mcpServers: {
      bad: { command: process.execPath, args: [HOSTILE, mode] },
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
})
