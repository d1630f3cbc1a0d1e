import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "vitest"
import { connectStdio } from "../src/client/connectStdio.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"

// The gateway's per-call path and the young GC (docs/performance.md): a gateway process lives for hours
// with a few long-lived sessions (its clients', its own to each upstream), and each of them added and
// deleted one entry per call in a Map or Set of its own (the served session's requests in flight, the
// host's calls in flight, our client's waiters and request deadlines). Once a full GC has moved such a
// table to old space, its dropped hash tables keep every call that went through reachable for the young GC
// (test/http.churnGc.test.ts, test/protocol.clearingMap.test.ts): under churned calls the gateway kept
// ≈ 9 MB per scavenge. The tables now hold numbers and ids (ClearingMap).

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const DEMO = { command: process.execPath, args: [MAIN, "serve", "--stdio", "--example", "demo"] }

/** Where the first insertion into a table came from: the frames below the recorder's own, project files only. */
const origin = (): string =>
  (new Error().stack ?? "").split("\n").slice(4).filter((l) => !l.includes("node_modules") && !l.includes("node:")).slice(0, 2)
    .map((l) => l.trim().replace(/^at /, "").replace(/.*\/(src|machines|test)\//, "$1/")).join(" < ")

/**
 * Run `body` while recording every `Map.set` and `Set.add` of an object or a function (key or value; a
 * primitive, an id or a slot number, keeps nothing young); returns the tables still alive afterwards (long-lived
 * ones: a call's own tables are gone with it) that took at least `min` such insertions, each as where its first
 * insertion came from and how many it took. `WeakMap`/`WeakSet` are left out: the scavenger treats their keys
 * weakly (a `WeakMap` in old space keyed by each of 300 000 churned objects kept none alive).
 */
const perCallTables = async (body: () => Promise<void>, min: number): Promise<Array<string>> => {
  const mapSet = Map.prototype.set, setAdd = Set.prototype.add
  const tables = new WeakMap<object, { readonly ref: WeakRef<object>; readonly from: string; count: number }>()
  const seen: Array<{ readonly ref: WeakRef<object>; readonly from: string; count: number }> = []
  let inside = false
  const note = (table: object, x: unknown, y: unknown): void => {
    if (inside || !((typeof x === "object" && x !== null) || typeof x === "function" || (typeof y === "object" && y !== null) || typeof y === "function")) return
    inside = true
    try {
      let entry = tables.get(table)
      if (entry === undefined) {
        entry = { ref: new WeakRef(table), from: origin(), count: 0 }
        tables.set(table, entry)
        seen.push(entry)
      }
      entry.count++
    } finally {
      inside = false
    }
  }
  Map.prototype.set = function(this: Map<unknown, unknown>, key: unknown, value: unknown) {
    note(this, key, value)
    return mapSet.call(this, key, value)
  }
  Set.prototype.add = function(this: Set<unknown>, value: unknown) {
    note(this, value, undefined)
    return setAdd.call(this, value)
  }
  try {
    await body()
  } finally {
    Map.prototype.set = mapSet
    Set.prototype.add = setAdd
  }
  // The next turn (a WeakRef's target is kept for the job that made it), then full GCs: the calls' own tables go.
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  gc()
  return seen.filter((e) => e.count >= min && e.ref.deref() !== undefined).map((e) => `${e.ref.deref()!.constructor.name} from ${e.from}: ${e.count}`)
}

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
