/**
 * The host's health probes and list deadlines against real server processes.
 *
 * - Health is an MCP round trip, never PID liveness (machines/serverConnection.ts,
 *   "Health"; src/host/ServerConnection.ts `probe`): `ping` to a legacy upstream,
 *   `server/discover` to a modern one. A server frozen with SIGSTOP keeps its PID
 *   alive but answers nothing: one missed probe makes it `degraded` (still
 *   advertised), an answer makes it `ready` again, `maxMisses` misses in a row
 *   fail it (`restarting`, its group killed, a new generation started).
 *   `keepalive: false` sends no probe at all.
 * - `timeouts.list` bounds each list request: at the handshake a list that never
 *   answers fails the start (the server restarts); a relist after `list_changed`
 *   that never answers leaves the last known catalog advertised and the server
 *   ready, and a `list_changed` that came meanwhile is listed once it has failed.
 *
 * The servers are real processes (server-memory, our CLI's demo, a raw stdio
 * script), each behind a small stdio tee (written to a temp dir) that logs every
 * line the host writes to it: that log is what proves which probe went out.
 * Every timer the host runs (probe interval and timeout, list deadline, backoff)
 * is on a clock the test drives (HostOptions.clock), with intervals no real
 * timer could reach within the test; the bounded waits wait on real I/O only
 * (a process answering, a log line, a group dying).
 */
import { type FSWatcher, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { DEFAULTS } from "../src/host/config.ts"
import { type HostEvent, type McpHost, type ServerView, startHost } from "../src/host/McpHost.ts"
import type { Clock } from "../src/protocol/clock.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { chartOf } from "./support/actorTree.ts"
import { countingClock } from "./support/countingClock.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { eventually, processesOf, processGroupAlive } from "./support/processes.ts"
import { condition } from "./support/condition.ts"

const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "host-health-"))
/** The tee logs' watchers (closed with the folder). */
const watchers: Array<FSWatcher> = []
afterAll(() => {
  for (const w of watchers) w.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Probe interval and timeout: on a real clock neither could elapse while a test runs. */
const INTERVAL = 10 * 60_000
const TIMEOUT = 5 * 60_000
const TEN_MINUTES = 10 * 60_000
const HOUR = 60 * 60_000

/**
 * `node tee.mjs LOG COMMAND ARGS…`: runs the server with our stdin piped through, appending each
 * line the host writes to LOG (before forwarding it), and the server's pid to LOG.pid.
 */
const TEE = join(dir, "tee.mjs")
writeFileSync(TEE, `
import { spawn } from "node:child_process"
import { appendFileSync, writeFileSync } from "node:fs"
import { createInterface } from "node:readline"
const [log, command, ...args] = process.argv.slice(2)
const child = spawn(command, args, { stdio: ["pipe", "inherit", "inherit"] })
writeFileSync(log + ".pid", String(child.pid))
child.stdin.on("error", () => {})
createInterface({ input: process.stdin })
  .on("line", (line) => {
    appendFileSync(log, line + "\\n")
    child.stdin.write(line + "\\n")
  })
  .on("close", () => child.stdin.end())
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code) => process.exit(code ?? 1))
`)

/**
 * \`node lists.mjs PLAN\`: a raw legacy stdio server with tools (listChanged). PLAN is a JSON array,
 * one entry per tools/list in order: the tool names to answer with, or null to leave it unanswered
 * (and every list past the plan too). Each tools/list is reported on stderr. A tools/call sends
 * notifications/tools/list_changed, then answers with the number of tools/list requests it got so far
 * (so when a call returns, the host has seen the notification, and any list it sent for it is counted
 * by the next call).
 */
const LISTS = join(dir, "lists.mjs")
writeFileSync(LISTS, `
import { createInterface } from "node:readline"
const plan = JSON.parse(process.argv[2])
let lists = 0
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\\n")
createInterface({ input: process.stdin }).on("line", (line) => {
  let m
  try { m = JSON.parse(line) } catch { return }
  if (m.id === undefined || typeof m.method !== "string") return
  if (m.method === "initialize") {
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: { listChanged: true } }, serverInfo: { name: "lists", version: "1.0.0" } } })
  } else if (m.method === "ping") {
    send({ id: m.id, result: {} })
  } else if (m.method === "tools/list") {
    const names = plan[lists++] ?? null
    process.stderr.write("tools/list #" + lists + (names === null ? " left unanswered" : " answered") + "\\n")
    if (names !== null) send({ id: m.id, result: { tools: names.map((name) => ({ name, inputSchema: { type: "object" } })) } })
  } else if (m.method === "tools/call") {
    send({ method: "notifications/tools/list_changed" })
    send({ id: m.id, result: { content: [{ type: "text", text: "lists: " + lists }] } })
  } else {
    send({ id: m.id, error: { code: -32601, message: "Method not found" } })
  }
})
`)

let teeCount = 0
/** A server behind the tee: its config entry, the methods the host sent it (in order), and the real server's pid. */
const teed = (command: string, args: ReadonlyArray<string>) => {
  const log = join(dir, `wire-${++teeCount}.log`)
  writeFileSync(log, "")
  const methods = (): Array<string> =>
    readFileSync(log, "utf8").split("\n").filter((l) => l !== "").map((l) => {
      try {
        return (JSON.parse(l) as { method?: string }).method ?? "(response)"
      } catch {
        return "(a line still being written)"
      }
    })
  const count = (method: string) => methods().filter((m) => m === method).length
  // The child's tee appends each line it read: an event (inotify) per write, no polling.
  const changes = condition()
  watchers.push(watch(log, () => changes.changed()))
  return {
    entry: { command: process.execPath, args: [TEE, log, command, ...args] },
    methods,
    count,
    /** True once the child has read `n` requests of `method`; false after `timeoutMs`. */
    logged: (method: string, n: number, timeoutMs = 20_000): Promise<boolean> =>
      changes.when(() => count(method) === n, `${n} ${method} in the tee's log`, timeoutMs).then(() => true, () => false),
    serverPid: () => Number(readFileSync(`${log}.pid`, "utf8"))
  }
}

/** The process state letter from /proc (`T`: stopped), or undefined once it is gone. */
const procState = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    return stat.slice(stat.lastIndexOf(")") + 2)[0]
  } catch {
    return undefined
  }
}
const alive = (pid: number): boolean => {
  const state = procState(pid)
  return state !== undefined && state !== "Z" && state !== "X"
}

/** SIGSTOP `pid` and wait (real process) until the kernel reports it stopped. */
const freeze = async (pid: number) => {
  process.kill(pid, "SIGSTOP")
  expect(await eventually(() => procState(pid) === "T", 10_000)).toBe(true)
}
const thaw = (pid: number) => {
  try {
    process.kill(pid, "SIGCONT")
  } catch {
    // already gone
  }
}

/**
 * The health verdicts (`HEALTH_OK` / `HEALTH_FAILED`) each server's `serverConnection` actor receives, seen
 * through the runtime's inspection hub: the probe's outcome as the chart sees it.
 */
const watchHealth = () => {
  const verdicts: Array<{ readonly server: string; readonly type: string }> = []
  const changes = condition()
  const stop = inspection.subscribe((e: InspectionEvent) => {
    if (e.type !== "@xstate.event") return
    const type = e.event.type
    if (type !== "HEALTH_OK" && type !== "HEALTH_FAILED") return
    const ref = e.actorRef as AnyActorRef
    if (chartOf(ref) !== "serverConnection") return
    verdicts.push({ server: (ref.getSnapshot().context as { name: string }).name, type })
    changes.changed()
  }, { kinds: ["@xstate.event"] })
  const of = (server: string) => verdicts.filter((v) => v.server === server).map((v) => v.type)
  return {
    stop,
    of,
    /** True once `server` has had `n` verdicts (an answer from a real process); false after `timeoutMs`. */
    reaches: (server: string, n: number, timeoutMs = 20_000): Promise<boolean> =>
      changes.when(() => of(server).length >= n, `${n} verdicts of ${server}`, timeoutMs).then(() => true, () => false)
  }
}

/**
 * The host's clock: a SimulatedClock the test moves. Once `closing()` is called, a zero-delay timer fires on its
 * own: a client closed with a request still pending drains with `drainMs: 0` on this clock (ClientSession.close),
 * which would otherwise hold `host.close()` until the test moved time (a failing test would hang, not fail).
 */
const testClock = () => {
  const sim = countingClock()
  let closing = false
  const clock: Clock = {
    now: sim.clock.now,
    clearTimeout: sim.clock.clearTimeout,
    setTimeout: (fn, ms) => {
      const handle = sim.clock.setTimeout(fn, ms)
      if (closing && ms <= 0) queueMicrotask(() => sim.increment(0))
      return handle
    }
  }
  return { clock, increment: (ms: number) => sim.increment(ms), closing: () => void (closing = true) }
}

/** Event-loop turns (no real time): lets promise chains waiting on a fired virtual timer run. */
const turns = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ type: string; text?: string }>).filter((c) => c.type === "text").map((c) => c.text).join("\n")

const view = (host: McpHost, name: string): ServerView => host.status().find((s) => s.name === name)!

/** Close the host and check with ps that nothing of the given groups is left. */
const closeAndCheck = async (host: McpHost, groups: ReadonlyArray<number>, closing: () => void) => {
  closing()
  await host.close()
  expect(await eventually(() => groups.every((g) => !processGroupAlive(g)), 20_000)).toBe(true)
  for (const g of groups) expect(processesOf(g)).toEqual([])
}

describe("host health: an MCP round trip on the host's clock, not PID liveness", { timeout: 90_000 }, () => {
  it("legacy upstream (server-memory): the probe is a `ping`; SIGSTOP (PID alive) degrades it after one missed ping, still advertised; SIGCONT: its answer makes it ready again", async () => {
    const { clock, increment, closing } = testClock()
    const health = watchHealth()
    const memory = teed(process.execPath, [MEMORY])
    let host: McpHost | undefined
    let serverPid: number | undefined
    const groups: Array<number> = []
    try {
      host = await startHost({
        mcpServers: {
          memory: { ...memory.entry, env: { MEMORY_FILE_PATH: join(dir, "memory-a.jsonl") }, keepalive: { intervalMs: INTERVAL, timeoutMs: TIMEOUT, maxMisses: 2 } }
        }
      }, { stateFile: false, onStderr: () => {}, clock })
      const h = host
      const state = () => view(h, "memory").state
      expect(view(h, "memory")).toMatchObject({ state: "ready", era: "legacy", generation: 1 })
      groups.push(view(h, "memory").pid!)
      serverPid = memory.serverPid()
      expect(memory.methods()).toContain("initialize")
      expect(memory.count("ping")).toBe(0)

      // A probe once the interval has passed, and only then: a ping, answered.
      increment(INTERVAL - 1)
      await turns()
      expect(health.of("memory")).toEqual([])
      increment(1)
      expect(await health.reaches("memory", 1)).toBe(true)
      expect(health.of("memory")).toEqual(["HEALTH_OK"])
      expect(memory.count("ping")).toBe(1)
      expect(memory.methods().at(-1)).toBe("ping")
      expect(state()).toBe("ready")

      // Frozen: its PID is alive, it answers nothing.
      await freeze(serverPid)
      expect(alive(serverPid)).toBe(true)
      increment(INTERVAL)
      expect(await memory.logged("ping", 2)).toBe(true) // the tee still logs it
      increment(TIMEOUT - 1)
      await turns()
      expect(state()).toBe("ready")
      increment(1)
      await turns()
      expect(state()).toBe("degraded")
      expect(alive(serverPid)).toBe(true)
      expect(h.state).toBe("degraded")
      // Degraded is still advertised (and callable): only a failure withdraws it.
      expect(h.tools().map((t) => t.name)).toContain("memory__read_graph")

      // Probed again while degraded; the ping waits in the frozen server's pipe.
      increment(INTERVAL)
      expect(await memory.logged("ping", 3)).toBe(true)
      await turns()
      expect(state()).toBe("degraded")
      // Thawed, it answers: no clock moves, the answer alone makes it ready again (same process, same generation).
      thaw(serverPid)
      expect(await hostReaches(h, () => state() === "ready", 20_000)).toBe(true)
      expect(health.of("memory").at(-1)).toBe("HEALTH_OK")
      expect(view(h, "memory")).toMatchObject({ generation: 1, restarts: 0 })
      expect(memory.serverPid()).toBe(serverPid)
      expect(h.state).toBe("ready")
      // Every probe was a ping: the era probe's server/discover (if any) came before the handshake, none since.
      expect(memory.methods().slice(memory.methods().indexOf("initialize")).filter((m) => m === "server/discover")).toEqual([])
    } finally {
      health.stop()
      if (serverPid !== undefined) thaw(serverPid)
      if (host !== undefined) await closeAndCheck(host, groups, closing)
    }
  })

  it("legacy upstream frozen for maxMisses probes: the host fails it as unresponsive, kills the frozen group, and the next generation comes up ready", async () => {
    const { clock, increment, closing } = testClock()
    const health = watchHealth()
    const memory = teed(process.execPath, [MEMORY])
    let host: McpHost | undefined
    const pids: Array<number> = []
    const groups: Array<number> = []
    try {
      host = await startHost({
        mcpServers: {
          memory: {
            ...memory.entry, env: { MEMORY_FILE_PATH: join(dir, "memory-b.jsonl") },
            keepalive: { intervalMs: INTERVAL, timeoutMs: TIMEOUT, maxMisses: 2 },
            restart: { backoff: { initialMs: 1_000, jitter: 0 } }
          }
        }
      }, { stateFile: false, onStderr: () => {}, clock })
      const h = host
      const state = () => view(h, "memory").state
      expect(state()).toBe("ready")
      const pgid = view(h, "memory").pid!
      groups.push(pgid)
      const frozen = memory.serverPid()
      pids.push(frozen)
      await freeze(frozen)

      // Miss 1: degraded.
      increment(INTERVAL)
      expect(await memory.logged("ping", 1)).toBe(true)
      increment(TIMEOUT)
      await turns()
      expect(state()).toBe("degraded")
      // Miss 2 (= maxMisses): failed, then restarting; the PID was alive all along.
      increment(INTERVAL)
      expect(await memory.logged("ping", 2)).toBe(true)
      increment(TIMEOUT - 1)
      await turns()
      expect(state()).toBe("degraded")
      expect(alive(frozen)).toBe(true)
      increment(1)
      await turns()
      expect(view(h, "memory")).toMatchObject({ state: "restarting", lastError: "unresponsive: 2 health probes missed", generation: 1 })
      expect(h.tools()).toEqual([]) // withdrawn while it restarts
      // The host ends the frozen group itself (stdin close, SIGTERM, SIGKILL): nothing of generation 1 is left.
      expect(await eventually(() => !processGroupAlive(pgid), 20_000)).toBe(true)
      expect(alive(frozen)).toBe(false)

      // The backoff passes on the host's clock: a new process, ready.
      increment(1_000)
      expect(await hostReaches(h, () => state() === "ready", 30_000)).toBe(true)
      expect(view(h, "memory")).toMatchObject({ generation: 2, restarts: 1, lastError: undefined })
      groups.push(view(h, "memory").pid!)
      const next = memory.serverPid()
      pids.push(next)
      expect(next).not.toBe(frozen)
      expect(procState(next)).not.toBe("T")
      expect(h.tools().map((t) => t.name)).toContain("memory__read_graph")
    } finally {
      health.stop()
      for (const pid of pids) thaw(pid)
      if (host !== undefined) await closeAndCheck(host, groups, closing)
    }
  })

  it("modern upstream (our demo over stdio, 2026-07-28): the probe is `server/discover`; SIGSTOP degrades it, SIGCONT brings it back to ready", async () => {
    const { clock, increment, closing } = testClock()
    const health = watchHealth()
    const demo = teed(process.execPath, [MAIN, "serve", "--stdio", "--example", "demo"])
    let host: McpHost | undefined
    let serverPid: number | undefined
    const groups: Array<number> = []
    try {
      host = await startHost({
        mcpServers: { demo: { ...demo.entry, protocol: "2026-07-28", keepalive: { intervalMs: INTERVAL, timeoutMs: TIMEOUT, maxMisses: 2 } } }
      }, { stateFile: false, onStderr: () => {}, clock })
      const h = host
      const state = () => view(h, "demo").state
      expect(view(h, "demo")).toMatchObject({ state: "ready", era: "modern", protocolVersion: "2026-07-28" })
      groups.push(view(h, "demo").pid!)
      serverPid = demo.serverPid()
      const handshakeDiscovers = demo.count("server/discover")
      expect(handshakeDiscovers).toBeGreaterThanOrEqual(1)
      const before = demo.methods().length

      increment(INTERVAL)
      expect(await health.reaches("demo", 1)).toBe(true)
      expect(health.of("demo")).toEqual(["HEALTH_OK"])
      // The probe: exactly one more line, a server/discover; never a ping.
      expect(demo.methods().slice(before)).toEqual(["server/discover"])
      expect(demo.count("ping")).toBe(0)
      expect(state()).toBe("ready")

      await freeze(serverPid)
      increment(INTERVAL)
      expect(await demo.logged("server/discover", handshakeDiscovers + 2)).toBe(true)
      increment(TIMEOUT - 1)
      await turns()
      expect(state()).toBe("ready")
      increment(1)
      await turns()
      expect(state()).toBe("degraded")
      expect(alive(serverPid)).toBe(true)
      expect(h.tools().map((t) => t.name)).toContain("demo__echo")

      increment(INTERVAL)
      expect(await demo.logged("server/discover", handshakeDiscovers + 3)).toBe(true)
      await turns()
      expect(state()).toBe("degraded")
      thaw(serverPid)
      expect(await hostReaches(h, () => state() === "ready", 20_000)).toBe(true)
      expect(health.of("demo").at(-1)).toBe("HEALTH_OK")
      expect(view(h, "demo")).toMatchObject({ generation: 1, restarts: 0 })
      expect(demo.count("ping")).toBe(0)
    } finally {
      health.stop()
      if (serverPid !== undefined) thaw(serverPid)
      if (host !== undefined) await closeAndCheck(host, groups, closing)
    }
  })

  it("keepalive: false sends no probe; the default keepalive pings once its interval passes", async () => {
    const { clock, increment, closing } = testClock()
    const health = watchHealth()
    const on = teed(process.execPath, [MEMORY])
    const off = teed(process.execPath, [MEMORY])
    let host: McpHost | undefined
    const groups: Array<number> = []
    try {
      host = await startHost({
        mcpServers: {
          on: { ...on.entry, env: { MEMORY_FILE_PATH: join(dir, "memory-on.jsonl") } }, // keepalive by default
          off: { ...off.entry, env: { MEMORY_FILE_PATH: join(dir, "memory-off.jsonl") }, keepalive: false }
        }
      }, { stateFile: false, onStderr: () => {}, clock })
      const h = host
      expect(h.status().map((s) => s.state)).toEqual(["ready", "ready"])
      for (const s of h.status()) groups.push(s.pid!)
      // The default interval passes on the host's clock: the server with keepalive is probed and answers.
      increment(DEFAULTS.healthIntervalMs)
      expect(await health.reaches("on", 1)).toBe(true)
      // A call to each after that: each tee logs in the order the host wrote, so a probe sent at the same
      // moment would be logged before the call's line.
      expect((await h.callTool("on__read_graph", {})).isError).not.toBe(true)
      expect((await h.callTool("off__read_graph", {})).isError).not.toBe(true)
      const onMethods = on.methods()
      const offMethods = off.methods()
      expect(onMethods.indexOf("ping")).toBeGreaterThanOrEqual(0)
      expect(onMethods.indexOf("ping")).toBeLessThan(onMethods.indexOf("tools/call"))
      expect(offMethods).toContain("tools/call")
      expect(offMethods).not.toContain("ping")
      expect(health.of("off")).toEqual([])
    } finally {
      health.stop()
      if (host !== undefined) await closeAndCheck(host, groups, closing)
    }
  })
})

describe("host: timeouts.list bounds each list request (on the host's clock)", { timeout: 60_000 }, () => {
  /** A lists.mjs server, its stderr lines, and a wait for one of them (a real process answering). */
  const listsServer = (plan: ReadonlyArray<ReadonlyArray<string> | null>) => {
    const lines: Array<string> = []
    const changes = condition()
    return {
      entry: {
        command: process.execPath, args: [LISTS, JSON.stringify(plan)], protocol: "legacy",
        timeouts: { list: TEN_MINUTES, call: HOUR, connect: HOUR }, keepalive: false
      },
      onStderr: (_server: string, line: string) => {
        lines.push(line)
        changes.changed()
      },
      said: (line: string, timeoutMs = 20_000): Promise<boolean> =>
        changes.when(() => lines.includes(line), JSON.stringify(line), timeoutMs).then(() => true, () => false)
    }
  }

  it("a tools/list that never answers at the handshake fails the start after timeouts.list (not the connect timeout): the server restarts, nothing advertised", async () => {
    const { clock, increment, closing } = testClock()
    const server = listsServer([null])
    const host = await startHost({ mcpServers: { lists: server.entry } }, { stateFile: false, onStderr: server.onStderr, clock, startTimeoutMs: 0 })
    const state = () => view(host, "lists").state
    const groups: Array<number> = []
    try {
      expect(await server.said("tools/list #1 left unanswered")).toBe(true)
      groups.push(view(host, "lists").pid!)
      increment(TEN_MINUTES - 1)
      await turns()
      expect(state()).toBe("initializing")
      increment(1)
      expect(await hostReaches(host, () => state() === "restarting", 10_000)).toBe(true)
      // The list's own deadline (not the connect timeout, an hour) failed the handshake.
      expect(view(host, "lists")).toMatchObject({ lastError: "handshake failed: tools/list timed out after 600000 ms", generation: 1, restarts: 0 })
      expect(host.tools()).toEqual([])
    } finally {
      await closeAndCheck(host, groups, closing)
    }
  })

  it("a relist after list_changed that never answers: after timeouts.list the last catalog stays advertised and the server ready; a list_changed meanwhile is listed then", async () => {
    const { clock, increment, closing } = testClock()
    const server = listsServer([["a"], null, ["a", "b"]])
    const host = await startHost({ mcpServers: { lists: server.entry } }, { stateFile: false, onStderr: server.onStderr, clock })
    const states: Array<string> = []
    host.on("status", (e) => void states.push(e.server.state))
    const listings: Array<Extract<HostEvent, { type: "listing" }>> = []
    host.on("listing", (e) => void listings.push(e))
    const call = async () => textOf(await host.callTool("lists__a", {}))
    const groups: Array<number> = []
    try {
      expect(view(host, "lists").state).toBe("ready")
      groups.push(view(host, "lists").pid!)
      expect(host.tools().map((t) => t.name)).toEqual(["lists__a"])
      // The call's list_changed starts a relist, left unanswered.
      expect(await call()).toBe("lists: 1")
      expect(await server.said("tools/list #2 left unanswered")).toBe(true)
      increment(TEN_MINUTES - 1)
      await turns()
      // Not timed out yet: another list_changed waits for that listing (no new tools/list reaches the server).
      expect(await call()).toBe("lists: 2")
      expect(await call()).toBe("lists: 2")
      expect(host.tools().map((t) => t.name)).toEqual(["lists__a"])
      // timeouts.list elapses: that listing fails, and the list_changed that waited is listed now.
      increment(1)
      // (The listing event comes just before the catalog is rebuilt, and the coalesced change event is on the
      // host's clock: wait for the listing, then read the catalog.)
      expect(await hostReaches(host, () => listings.length === 1, 20_000)).toBe(true)
      expect(await server.said("tools/list #3 answered")).toBe(true)
      expect(listings[0]).toMatchObject({ server: "lists", reconnect: false, diff: { added: ["tool:b"], removed: [], changed: [] } })
      expect(host.tools().map((t) => t.name).sort()).toEqual(["lists__a", "lists__b"])
      // The failed relist changed nothing else: never degraded or restarted, the same generation.
      expect(states).toEqual([])
      expect(view(host, "lists")).toMatchObject({ state: "ready", generation: 1, restarts: 0 })
    } finally {
      await closeAndCheck(host, groups, closing)
    }
  })
})
