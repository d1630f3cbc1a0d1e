/**
 * The host's supervision against real processes (real time, generous bounds):
 * crash loops park, silent servers time out, lazy servers start and stop,
 * catalogs changed while disconnected are noticed by the hash, and nothing
 * outlives the host, even kill -9 of the host. The parking and timeout tests drive
 * the charts on a SimulatedClock (HostOptions.clock); the timing rules themselves
 * are tested on virtual time in machines.serverConnection.test.ts.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { ServerUnavailable } from "../src/host/errors.ts"
import { HostStateFile, INSTANCE_ENV } from "../src/host/lifeline.ts"
import { type HostEvent, type McpHost, type ServerView, startHost } from "../src/host/McpHost.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { eventually, groupMembers, processGroupAlive, serverPidUnder } from "./support/processes.ts"

const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))
const VARIABLE = fileURLToPath(new URL("./fixtures/host-variable-server.ts", import.meta.url))
const HOST_PROCESS = fileURLToPath(new URL("./fixtures/host-process.ts", import.meta.url))
const STUBBORN = fileURLToPath(new URL("./fixtures/host-stubborn-server.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "host-lifecycle-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A live process's group (Linux /proc). */
const pgidOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])
}
const stateOf = (host: McpHost, name: string): ServerView => host.status().find((s) => s.name === name)!

describe("host lifecycle with real processes", { timeout: 60_000 }, () => {
  it("a server that exits at start is parked after intensity+1 tries, with no busy loop, and calls fail fast", async () => {
    // The charts' timers (backoff, parking) run on a clock the test drives; the process and its exits are real.
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: {
        bad: {
          command: process.execPath, args: ["-e", "process.exit(1)"],
          restart: { intensity: 2, period: 60_000, backoff: { initialMs: 50, maxMs: 200 }, parkedProbeMs: 60_000 }
        }
      }
    }, { stateFile: false, startTimeoutMs: 0, clock, now: () => clock.now() })
    try {
      const bad = () => stateOf(host, "bad").state
      // Each exit is real; each backoff (at most 200 ms) passes on the test's clock.
      for (let i = 0; i < 5 && bad() !== "parked"; i++) {
        expect(await hostReaches(host, () => bad() === "restarting" || bad() === "parked", 20_000)).toBe(true)
        if (bad() === "restarting") clock.increment(200)
      }
      expect(bad()).toBe("parked")
      const parked = host.status()[0]!
      expect(parked.restarts).toBe(2)
      expect(parked.generation).toBe(3)
      expect(parked.parked?.reason).toMatch(/crash loop: 3 failures within 60000 ms \(limit 2\); last: .*exited with code 1/)
      expect(parked.parked!.nextProbeAt).toBeGreaterThan(clock.now() + 50_000)
      clock.increment(59_000) // most of the parking period passes: nothing starts
      expect(host.status()[0]!.generation).toBe(3)
      expect(bad()).toBe("parked")
      const t0 = Date.now()
      const error = await host.callTool("bad__anything", {}).catch((e) => e)
      expect(error).toBeInstanceOf(ServerUnavailable)
      expect(error).toMatchObject({ server: "bad", state: "parked", retryAt: parked.parked!.nextProbeAt })
      expect(Date.now() - t0).toBeLessThan(500)
      expect(host.state).toBe("degraded")
    } finally {
      await host.close()
    }
  })

  it("startHost's signal aborted while a server starts: the host is closed (its group killed, its state file cleared) and startHost rejects with the reason", async () => {
    // The connect timeout (1 h) and the settle wait are on a clock nobody advances: only the abort ends the start.
    const clock = new SimulatedClock()
    const stateFile = join(dir, "aborted-start.json")
    const controller = new AbortController()
    let pid: number | undefined
    let pgid: number | undefined
    const reason = new Error("given up")
    const started = startHost({
      mcpServers: {
        silent: {
          command: process.execPath,
          args: ["-e", "process.stderr.write(process.pid + '\\n'); process.stdin.resume(); setInterval(() => {}, 1e6)"],
          timeouts: { connect: 3_600_000 }
        }
      }
    }, {
      stateFile, clock, now: () => clock.now(), signal: controller.signal,
      // The silent server's first line (its pid): it is running, and the host waits for its initialize answer.
      onStderr: (_server, line) => {
        if (pid !== undefined) return // (later lines: the shell around it saying how it ended)
        pid = Number(line)
        pgid = pgidOf(pid)
        controller.abort(reason)
      }
    })
    await expect(started).rejects.toBe(reason)
    expect(pid).toBeGreaterThan(1)
    // It was running in a group of its own (the lifeline wrapper's), and nothing of that group is left.
    expect(pgid).not.toBe(pgidOf(process.pid))
    expect(groupMembers(pgid!)).toEqual([])
    expect(existsSync(stateFile)).toBe(false)
    // Aborted before it starts: nothing is started.
    await expect(startHost({ mcpServers: { silent: { command: process.execPath, args: ["-e", ""] } } }, { stateFile: false, signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  }, 30_000)

  it("a server that never answers initialize times out after timeouts.connect and backs off", async () => {
    // The connect timeout and the backoff run on a clock the test drives; the silent process is real.
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: {
        silent: {
          command: process.execPath, args: ["-e", "process.stdin.resume(); setInterval(() => {}, 1e6)"],
          timeouts: { connect: 400 }, restart: { intensity: 10, backoff: { initialMs: 300, jitter: 0 } }
        }
      }
    }, { stateFile: false, startTimeoutMs: 0, clock, now: () => clock.now() })
    try {
      const silent = () => stateOf(host, "silent")
      const initializing = () => hostReaches(host, () => silent().state === "initializing", 10_000)
      // Each try is cut at 400 ms, and each backoff (300, then 600 ms: jitter 0) waits its full length.
      for (const [attempt, backoffMs] of [[1, 300], [2, 600]] as const) {
        expect(await initializing()).toBe(true)
        clock.increment(399)
        expect(silent().state).toBe("initializing")
        clock.increment(1)
        expect(silent().lastError).toBe("timed out after 400 ms")
        expect(silent().state).toBe("restarting")
        expect(silent().restarts).toBe(attempt - 1)
        clock.increment(backoffMs - 1)
        expect(silent().state).toBe("restarting")
        clock.increment(1)
        expect(silent().state).not.toBe("restarting")
        expect(silent().restarts).toBe(attempt)
      }
      expect(silent().generation).toBe(3)
    } finally {
      await host.close()
    }
  })

  it("a lazy server: learns its catalog once, stops when idle (still advertised), starts on the first call, stops again", async () => {
    // The idle timer runs on a clock the test drives; the server process is real.
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: { memory: { command: process.execPath, args: [MEMORY], lifecycle: "lazy", idleTimeoutMs: 1_500, env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") } } }
    }, { stateFile: false, onStderr: () => {}, clock, now: () => clock.now() })
    const memory = () => stateOf(host, "memory").state
    /** Once ready, idle for the full idle timeout and not a moment less. */
    const idlesOut = async () => {
      expect(await hostReaches(host, () => memory() === "ready", 15_000)).toBe(true)
      clock.increment(1_499)
      expect(memory()).toBe("ready")
      clock.increment(1)
      expect(await hostReaches(host, () => memory() === "idle", 15_000)).toBe(true)
    }
    try {
      // Started once to learn the catalog, then stopped when idle.
      await idlesOut()
      expect(host.connection("memory")!.pid).toBeUndefined()
      expect(host.tools().map((t) => t.name)).toContain("memory__read_graph") // last known catalog served
      // Waking is not a failure: the catalog stays as it was (no withdrawal, no list_changed at all).
      const changes: Array<Extract<HostEvent, { type: "change" }>> = []
      const offChange = host.on("change", (e) => void changes.push(e))
      const call = host.callTool("memory__read_graph", {})
      expect(["starting", "initializing"]).toContain(stateOf(host, "memory").state)
      expect(host.tools().map((t) => t.name)).toContain("memory__read_graph")
      const result = await call
      expect(result.isError).not.toBe(true)
      const pgid = host.connection("memory")!.pid!
      expect(processGroupAlive(pgid)).toBe(true)
      await idlesOut()
      offChange()
      expect(changes).toEqual([]) // the coalescing timer ran on the test's clock across the wake and the idle stop
      expect(await eventually(() => !processGroupAlive(pgid), 5_000)).toBe(true)
    } finally {
      await host.close()
    }
  })

  it("a server that changed its tools while disconnected is detected by the catalog hash", async () => {
    const toolsFile = join(dir, "tools.json")
    writeFileSync(toolsFile, JSON.stringify(["a", "b"]))
    const host = await startHost({
      mcpServers: { variable: { command: process.execPath, args: [VARIABLE, toolsFile], restart: { backoff: { initialMs: 100 } } } }
    }, { stateFile: false })
    const listings: Array<Extract<HostEvent, { type: "listing" }>> = []
    host.on("listing", (e) => void listings.push(e))
    try {
      expect(host.tools().map((t) => t.name).sort()).toEqual(["variable__a", "variable__b"])
      const hash = stateOf(host, "variable")
      writeFileSync(toolsFile, JSON.stringify(["a", "c"]))
      process.kill(serverPidUnder(host.connection("variable")!.pid!)!, "SIGKILL")
      expect(await hostReaches(host, () => listings.length > 0, 15_000)).toBe(true)
      expect(listings[0]).toMatchObject({ server: "variable", reconnect: true, diff: { added: ["tool:c"], removed: ["tool:b"], changed: [] } })
      expect(listings[0]!.hash).not.toBe(hash.catalogHash)
      expect(await hostReaches(host, () => host.tools().some((t) => t.name === "variable__c"), 5_000)).toBe(true)
      expect(host.tools().map((t) => t.name).sort()).toEqual(["variable__a", "variable__c"])
    } finally {
      await host.close()
    }
  })

  it("kill -9 of the host: its stdio servers' groups die too (lifeline), and ps shows no child", async () => {
    const config = join(dir, "host.json")
    writeFileSync(config, JSON.stringify({
      mcpServers: {
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m2.jsonl") } },
        everything: { command: process.execPath, args: [EVERYTHING, "stdio"] },
        // ignores stdin EOF and has a grandchild: only the lifeline's group signal ends it
        stubborn: { command: process.execPath, args: [STUBBORN] }
      }
    }))
    const child: ChildProcess = spawn(process.execPath, [HOST_PROCESS, config, join(dir, "state.json")], { stdio: ["ignore", "pipe", "inherit"] })
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve))
    const { pids, states } = JSON.parse(line) as { pids: Record<string, number>; states: Array<string> }
    expect(states).toEqual(["ready", "ready", "ready"])
    const groups = Object.values(pids)
    for (const g of groups) expect(groupMembers(g).length).toBeGreaterThanOrEqual(2)
    expect(groupMembers(pids.stubborn!).length).toBeGreaterThanOrEqual(3) // wrapper, server, sleep (+ the watcher)
    child.kill("SIGKILL")
    expect(await eventually(() => groups.every((g) => !processGroupAlive(g)), 10_000)).toBe(true)
    for (const g of groups) expect(groupMembers(g)).toEqual([])
  })

  it("a new host reaps the groups a crashed host recorded, and only processes carrying its instance id", async () => {
    const instance = "test-instance-1234"
    const ours = spawn("sleep", ["300"], { detached: true, stdio: "ignore", env: { ...process.env, [INSTANCE_ENV]: instance } })
    const stranger = spawn("sleep", ["300"], { detached: true, stdio: "ignore" })
    try {
      // spawn() returns once exec succeeded; the events confirm neither failed.
      await Promise.all([ours, stranger].map((c) => new Promise((resolve, reject) => c.once("spawn", resolve).once("error", reject))))
      const path = join(dir, "crashed.json")
      // pid 2^22 + 1 is above Linux's pid_max default: a host that is surely dead.
      writeFileSync(path, JSON.stringify({ hostPid: 4_194_305, instance, groups: [{ pgid: ours.pid, server: "a" }, { pgid: stranger.pid, server: "b" }] }))
      const killed = new HostStateFile(path).reapOrphans()
      expect(killed).toEqual([ours.pid])
      await new Promise((resolve) => (ours.exitCode !== null || ours.signalCode !== null ? resolve(undefined) : ours.once("exit", resolve)))
      expect(processGroupAlive(ours.pid!)).toBe(false)
      expect(processGroupAlive(stranger.pid!)).toBe(true)
    } finally {
      stranger.kill("SIGKILL")
      ours.kill("SIGKILL")
    }
  })
})
