/**
 * Our client against a server that goes away and comes back, many times:
 * `mcp-actors serve --http PORT` (or `--ws PORT`) is killed (SIGKILL or SIGTERM)
 * every ~2 s, stays down for 0–1.5 s, and is started again on the same port.
 * In this process: a long-lived client (`connectHttp` / `connectWs`, replaced
 * when it ends) calling `echo` every 20 ms, and a churn loop opening a client,
 * calling once and closing. Connects while the server is down are the failed
 * reconnects. Every 10 s: heap after GC, live handles, fds, the runtime's
 * registry and supervisor sizes.
 *
 *   node --expose-gc bench/chaos/reconnect.ts [--minutes 3] [--transport http|ws] [--era legacy|auto]
 */
import { spawn, type ChildProcess } from "node:child_process"
import { parseArgs } from "node:util"
import { connectHttp } from "../../src/client/connectHttp.ts"
import { connectWs } from "../../src/client/connectWs.ts"
import type { Client } from "../../src/client/Client.ts"
import { defaultMcpRuntime } from "../../src/runtime/McpRuntime.ts"
import { BIN, freePort } from "../lib.ts"
import { fdCount, sleep } from "./probe.ts"

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "3" },
    transport: { type: "string", default: "http" },
    era: { type: "string", default: "legacy" }
  }
})
const minutes = Number(values.minutes)
const transport = values.transport as "http" | "ws"
const era = values.era as "legacy" | "auto"
const gc = (globalThis as { gc?: () => void }).gc!
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)
const port = await freePort()
const url = transport === "http" ? `http://127.0.0.1:${port}/mcp` : `ws://127.0.0.1:${port}/mcp`

// ---------------------------------------------------------------- the server that comes and goes
let server: ChildProcess | undefined
let up = false
let starts = 0
const startServer = async (): Promise<void> => {
  const child = spawn(process.execPath, [BIN, "serve", transport === "http" ? "--http" : "--ws", String(port)], { stdio: ["ignore", "ignore", "pipe"] })
  server = child
  starts++
  let err = ""
  await new Promise<void>((ok) => {
    child.stderr!.setEncoding("utf8").on("data", (c: string) => {
      err += c
      if (/serving/.test(err)) ok()
    })
    child.once("exit", () => ok())
  })
  up = child.exitCode === null
}
const stopServer = async (): Promise<void> => {
  const child = server!
  up = false
  const exited = new Promise((r) => child.once("exit", r))
  child.kill(Math.random() < 0.5 ? "SIGKILL" : "SIGTERM")
  await exited
}

// ---------------------------------------------------------------- clients
const outcomes = new Map<string, number>()
const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
const wedges: Array<string> = []
let running = true
let connectFailures = 0, connects = 0, ends = 0

const watch = async <A>(what: string, p: Promise<A>): Promise<A> => {
  const t = setTimeout(() => wedges.push(`${what} pending after 30 s at ${new Date().toISOString()}`), 30_000)
  try {
    return await p
  } finally {
    clearTimeout(t)
  }
}
const open = (): Promise<Client> =>
  transport === "http" ? connectHttp(url, { era }) : connectWs(url, { era: era === "auto" ? "auto" : "legacy" })
const msg = (e: unknown) => `${(e as { _tag?: string })._tag ?? (e as Error).name}: ${((e as Error).message ?? String(e)).replace(/\d+/g, "N").slice(0, 110)}`

const longLived = async (): Promise<void> => {
  while (running) {
    let client: Client
    try {
      connects++
      client = await watch("connect", open())
    } catch (e) {
      connectFailures++
      count(`long connect: ${msg(e)}`)
      await sleep(50)
      continue
    }
    let ended = false
    void client.ended.then(() => (ended = true))
    while (running && !ended) {
      try {
        await watch("echo", client.callTool("echo", { text: "x" }, { timeoutMs: 10_000 }))
        count("long echo: ok")
      } catch (e) {
        count(`long echo: ${msg(e)}`)
      }
      await sleep(20)
    }
    if (ended) ends++
    await watch("close", client.close()).catch((e) => count(`long close: ${msg(e)}`))
  }
}

const churn = async (): Promise<void> => {
  while (running) {
    let client: Client | undefined
    try {
      client = await watch("churn connect", open())
      await watch("churn echo", client.callTool("echo", { text: "y" }, { timeoutMs: 10_000 }))
      count("churn: ok")
    } catch (e) {
      count(`churn: ${msg(e)}`)
      await sleep(30)
    } finally {
      await client?.close().catch(() => {})
    }
  }
}

// ---------------------------------------------------------------- samples
const rt = defaultMcpRuntime()
const sample = async (label: string) => {
  gc()
  gc()
  const m = process.memoryUsage()
  const handles: Record<string, number> = {}
  for (const k of process.getActiveResourcesInfo()) handles[k] = (handles[k] ?? 0) + 1
  const sup = await rt.managed.runPromise(rt.supervisor.stats)
  const s = {
    label, heapMB: +(m.heapUsed / 1048576).toFixed(2), fds: fdCount(process.pid), handles,
    registry: rt.registry.size, registryListeners: rt.registry.listenerCount, supervisor: sup, starts, connects, connectFailures, ends
  }
  log(JSON.stringify(s))
  return s
}

await startServer()
// warm-up: a minute of the same traffic with the server up, then the baseline
const warm = [longLived(), churn()]
await sleep(20_000)
running = false
await Promise.all(warm)
const before = await sample("baseline")
running = true
const loops = [longLived(), churn()]
const t0 = Date.now()
let nextSample = t0 + 10_000
while (Date.now() - t0 < minutes * 60_000) {
  await sleep(1000 + Math.random() * 2000)
  await stopServer()
  await sleep(Math.random() * 1500)
  await startServer()
  if (Date.now() > nextSample) {
    await sample("running")
    nextSample += 10_000
  }
}
// server up: let the clients recover, then stop them
await sleep(3000)
const recovered = new Map(outcomes)
running = false
await Promise.race([Promise.all(loops), sleep(30_000)])
await sleep(1000)
const after = await sample("after")
// one more client must be served
const last = await open()
const lastEcho = await last.callTool("echo", { text: "last" })
await last.close()
await stopServer()
await sleep(500)
const final = await sample("final (server stopped)")
console.log(JSON.stringify({ minutes, transport, era, restarts: starts - 1, before, after, final, lastEcho, wedges, outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])), recoveredSize: recovered.size }, null, 2))
await rt.shutdown()
process.exit(0)
