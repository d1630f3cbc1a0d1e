import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { connectStdio } from "../src/client/connectStdio.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { insertionsIntoLiveTables } from "./support/liveTables.ts"

// The gateway's per-call path and the young GC (docs/performance.md): a gateway process lives for hours
// with a few long-lived sessions (its clients', its own to each upstream), and each of them added and
// deleted one entry per call in a Map or Set of its own (the served session's requests in flight, the
// host's calls in flight, our client's waiters and request deadlines). Once a full GC has moved such a
// table to old space, its dropped hash tables keep every call that went through reachable for the young GC
// (test/http.churnGc.test.ts, test/protocol.clearingMap.test.ts): under churned calls the gateway kept
// ≈ 9 MB per scavenge. The tables now hold numbers and ids (ClearingMap).

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const DEMO = { command: process.execPath, args: [MAIN, "serve", "--stdio", "--example", "demo"] }

/**
 * Run `body`; the long-lived tables (a call's own are gone with it) that took at least `min` objects or
 * functions (key or value: a primitive, an id or a slot number, keeps nothing young), each as where its first
 * insertion came from and how many it took. `WeakMap`/`WeakSet` are left out: the scavenger treats their keys
 * weakly (a `WeakMap` in old space keyed by each of 300 000 churned objects kept none alive).
 */
const perCallTables = async (body: () => Promise<void>, min: number): Promise<Array<string>> =>
  (await insertionsIntoLiveTables(body, (x) => ((typeof x === "object" && x !== null) || typeof x === "function" ? "object" : undefined)))
    .filter((t) => t.count >= min)
    .map((t) => `${t.table} from ${t.from}: ${t.count}`)

/** `calls` calls of `call`, 8 in flight. */
const churn = async (calls: number, call: () => Promise<{ readonly isError?: boolean | undefined }>): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < calls) {
      next++
      expect((await call()).isError).not.toBe(true)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

describe("gateway calls and the young GC", () => {
  it("no call puts an object or closure into a long-lived Map or Set: our WebSocket client, the gateway's session, the host, its client to a stdio upstream", async () => {
    const host = await startHost({ mcpServers: { demo: { ...DEMO, keepalive: false } } }, { stateFile: false, onStderr: () => {} })
    const ws = await serveGatewayWs(makeGateway(host), { port: 0 })
    const client = await connectWs(ws.url)
    try {
      const call = () => client.callTool("demo__slow", { ms: 0 })
      await churn(64, call) // every table made, at its working size
      const tables = await perCallTables(() => churn(300, call), 150)
      // Before: the served session's requests in flight (legacyRequests `track`), the host's calls in flight
      // (`ServerConnection.inFlight`, a Set), and on both clients (ours to the gateway, the host's to the demo)
      // the waiters (`OutboundRequests.waiting`) and the requests' deadlines (the requests child's `deadlines`):
      // six tables, 300 insertions each.
      expect(tables).toEqual([])
      expect(host.status().find((s) => s.name === "demo")?.state).toBe("ready")
    } finally {
      await client.close()
      await ws.close()
      await host.close()
    }
  }, 60_000)

  it("nor does our stdio client's call to a server child", async () => {
    const client = await connectStdio({ ...DEMO, stderr: "ignore" })
    try {
      const call = () => client.callTool("slow", { ms: 0 })
      await churn(64, call)
      const tables = await perCallTables(() => churn(300, call), 150)
      // Before: the waiters and the requests' deadlines.
      expect(tables).toEqual([])
    } finally {
      await client.close()
    }
  }, 60_000)
})
