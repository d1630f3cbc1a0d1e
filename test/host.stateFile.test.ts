/**
 * `startHost` and its state file, against real processes: it records the process
 * group of every stdio server it starts (and the instance id every member carries),
 * and at start reaps what a crashed earlier host recorded: a real host process killed
 * with -9 after its lifeline watcher was killed (so its stubborn server's group
 * outlives it), while recorded groups whose processes do not carry that host's
 * instance id are spared, and a second host of the same process on the same file
 * leaves the first one's live servers alone, each host keeping a record of its own
 * (beside the path while a live host holds it).
 *
 * Real time, generous bounds (a busy 2-core machine); waits are on events or on the
 * real processes.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { randomUUID } from "node:crypto"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { HostStateFile, INSTANCE_ENV } from "../src/host/lifeline.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { eventually, groupMembers, processesOf, processGroupAlive, serverPidUnder } from "./support/processes.ts"

const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const HOST_PROCESS = fileURLToPath(new URL("./fixtures/host-process.ts", import.meta.url))
const STUBBORN = fileURLToPath(new URL("./fixtures/host-stubborn-server.ts", import.meta.url))

const dir = mkdtempSync(join(tmpdir(), "host-state-file-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface StateRecord {
  readonly hostPid: number
  readonly instance: string
  readonly groups: ReadonlyArray<{ readonly pgid: number; readonly server: string }>
}
const readState = (path: string): StateRecord => JSON.parse(readFileSync(path, "utf8")) as StateRecord

const memoryServer = (file: string) => ({ command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, file) } })

/** `ps`: pid → [ppid, pgid] of every live process. */
const psTable = (): Map<number, { readonly ppid: number; readonly pgid: number }> => {
  const out = new Map<number, { ppid: number; pgid: number }>()
  for (const line of execFileSync("ps", ["-eo", "pid=,ppid=,pgid=,stat="], { encoding: "utf8" }).split("\n")) {
    const [pid, ppid, pgid, stat] = line.trim().split(/\s+/)
    if (stat === undefined || stat.startsWith("Z")) continue
    out.set(Number(pid), { ppid: Number(ppid), pgid: Number(pgid) })
  }
  return out
}

const environOf = (pid: number): ReadonlyArray<string> => {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0")
  } catch {
    return [] // gone meanwhile
  }
}
const cmdlineOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, "latin1")

const exitOf = (child: ChildProcess): Promise<unknown> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", resolve))

const spawned = (child: ChildProcess): Promise<unknown> => new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject))

const killPid = (pid: number): void => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // gone
  }
}

describe("startHost and its state file (real processes)", { timeout: 90_000 }, () => {
  it("startHost records each stdio server's process group (pgid = the child's pid, its instance id in the group's environment); close clears it", async () => {
    const path = join(dir, "a", "state.json") // a directory that does not exist yet
    const host = await startHost({ mcpServers: { memory: memoryServer("a.jsonl") } }, { stateFile: path, onStderr: () => {} })
    let pgid: number | undefined
    try {
      expect(host.status()[0]!.state).toBe("ready")
      expect(host.reaped).toEqual([])
      // The child the host started, from ps: its parent is this process, and it leads its own group.
      const ps = psTable()
      const children = [...ps].filter(([pid, p]) => p.ppid === process.pid && p.pgid === pid && p.pgid !== process.pid).map(([pid]) => pid)
      expect(children).toHaveLength(1)
      pgid = children[0]!
      expect(host.connection("memory")!.pid).toBe(pgid)
      // The server itself (under the lifeline wrapper) is in that group too.
      const server = serverPidUnder(pgid)!
      expect(cmdlineOf(server)).toContain(MEMORY)
      expect(ps.get(server)?.pgid).toBe(pgid)
      // ps (pid pgid stat): the child leads its group, and the server is a member.
      const rows = processesOf(pgid).map((l) => l.split(" ").slice(0, 2).map(Number))
      expect(rows).toContainEqual([pgid, pgid])
      expect(rows).toContainEqual([server, pgid])

      const record = readState(path)
      expect(record).toEqual({ hostPid: process.pid, instance: expect.any(String), groups: [{ pgid, server: "memory" }] })
      // What a later host's reaping checks: every process of the group carries this host's instance id.
      for (const pid of groupMembers(pgid)) expect(environOf(pid)).toContain(`${INSTANCE_ENV}=${record.instance}`)
    } finally {
      await host.close()
    }
    // A clean shutdown leaves nothing to reap: no file, no process.
    expect(existsSync(path)).toBe(false)
    expect(groupMembers(pgid!)).toEqual([])
  })

  it("startHost reaps at start the groups a crashed host recorded (kill -9, lifeline defeated), and spares recorded groups without its instance id", async () => {
    const path = join(dir, "crash", "state.json")
    const config = join(dir, "crash-host.json")
    // A server that ignores stdin EOF and has a grandchild (`sleep`): after its host dies, only a signal ends it.
    writeFileSync(config, JSON.stringify({ mcpServers: { stubborn: { command: process.execPath, args: [STUBBORN] } } }))
    const host1: ChildProcess = spawn(process.execPath, [HOST_PROCESS, config, path], { stdio: ["ignore", "pipe", "inherit"] })
    const strangers: Array<ChildProcess> = []
    let host2: McpHost | undefined
    let leftover: number | undefined
    let marker: string | undefined
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: host1.stdout! }).once("line", resolve)
        host1.once("exit", (code, signal) => reject(new Error(`host #1 exited (${code ?? signal}) before it was ready`)))
      })
      const { pids, states } = JSON.parse(line) as { pids: Record<string, number>; states: Array<string> }
      expect(states).toEqual(["ready"])
      leftover = pids.stubborn!
      const recorded = readState(path)
      marker = `${INSTANCE_ENV}=${recorded.instance}`
      expect(recorded).toEqual({ hostPid: host1.pid, instance: expect.any(String), groups: [{ pgid: leftover, server: "stubborn" }] })

      // Defeat the lifeline: its watcher (the wrapper's /bin/sh subshell, the only other sh of the group) is killed,
      // so the host's death ends nothing; then the host is killed with -9, as a crash.
      const watchers = groupMembers(leftover).filter((pid) => pid !== leftover && cmdlineOf(pid).startsWith("/bin/sh"))
      expect(watchers).toHaveLength(1)
      process.kill(watchers[0]!, "SIGKILL")
      expect(await eventually(() => !groupMembers(leftover!).includes(watchers[0]!), 20_000)).toBe(true)
      host1.kill("SIGKILL")
      await exitOf(host1)

      // What the crash left: the wrapper, the server and its grandchild, all carrying host #1's instance id.
      const orphans = [...groupMembers(leftover)].sort((a, b) => a - b)
      expect(orphans.length).toBeGreaterThanOrEqual(3)
      expect(orphans).toContain(leftover)
      expect(orphans).toContain(serverPidUnder(leftover))
      for (const pid of orphans) expect(environOf(pid)).toContain(`${INSTANCE_ENV}=${recorded.instance}`)
      expect(psTable().get(leftover)?.ppid).not.toBe(host1.pid)

      // Two recorded groups that are not host #1's (a recycled group id): one without any instance id,
      // one with another host's. The reaper must leave them alone.
      const plain = spawn("sleep", ["300"], { detached: true, stdio: "ignore" })
      const other = spawn("sleep", ["300"], { detached: true, stdio: "ignore", env: { ...process.env, [INSTANCE_ENV]: "another-host-instance" } })
      strangers.push(plain, other)
      await Promise.all(strangers.map(spawned))
      writeFileSync(path, JSON.stringify({
        ...recorded,
        groups: [...recorded.groups, { pgid: plain.pid, server: "plain" }, { pgid: other.pid, server: "other" }]
      }))

      host2 = await startHost({ mcpServers: { memory: memoryServer("b.jsonl") } }, { stateFile: path, onStderr: () => {} })
      // Reaped at start: exactly the crashed host's processes.
      expect([...host2.reaped].sort((a, b) => a - b)).toEqual(orphans)
      expect(await eventually(() => groupMembers(leftover!).length === 0, 20_000)).toBe(true)
      expect(await eventually(() => !processGroupAlive(leftover!), 20_000)).toBe(true) // zombies reaped too
      // (By now the SIGKILLs of the reap have long landed: a killed stranger would be a zombie or gone.)
      for (const s of strangers) {
        expect(groupMembers(s.pid!)).toEqual([s.pid])
        expect(s.exitCode).toBe(null)
        expect(s.signalCode).toBe(null)
      }
      // The file is host #2's now: its own instance and group, nothing of the crashed host's record.
      expect(host2.status()[0]!.state).toBe("ready")
      const now = readState(path)
      expect(now).toEqual({ hostPid: process.pid, instance: expect.any(String), groups: [{ pgid: host2.connection("memory")!.pid, server: "memory" }] })
      expect(now.instance).not.toBe(recorded.instance)
    } finally {
      await host2?.close()
      host1.kill("SIGKILL")
      // Whatever is left of host #1's group (a failed test): only processes carrying its instance id.
      for (const pid of leftover === undefined ? [] : groupMembers(leftover)) if (marker !== undefined && environOf(pid).includes(marker)) killPid(pid)
      for (const s of strangers) s.kill("SIGKILL")
      await Promise.all([host1, ...strangers].map(exitOf))
    }
    expect(groupMembers(leftover!)).toEqual([])
    for (const s of strangers) expect(groupMembers(s.pid!)).toEqual([])
  })

  it("a second host in the same process on the same state file leaves the first host's live servers alone, and each keeps a record of its own", async () => {
    // Hosts started with the same (or the default) state file in one process: the record names this very pid.
    const path = join(dir, "shared", "state.json")
    const first = await startHost({ mcpServers: { memory: memoryServer("c.jsonl") } }, { stateFile: path, onStderr: () => {} })
    let second: McpHost | undefined
    try {
      const pgid = first.connection("memory")!.pid!
      const members = groupMembers(pgid)
      expect(members.length).toBeGreaterThanOrEqual(2)
      second = await startHost({ mcpServers: { memory: memoryServer("d.jsonl") } }, { stateFile: path, onStderr: () => {} })
      expect(second.reaped).toEqual([])
      // The first host's server is the same process, still serving: no restart.
      expect(groupMembers(pgid)).toEqual(members)
      expect(first.status()[0]).toMatchObject({ state: "ready", restarts: 0, pid: pgid })
      expect((await first.callTool("memory__read_graph", {})).isError).not.toBe(true)
      expect(first.status()[0]!.restarts).toBe(0)
      // Each keeps a record of its own: the first at the path, the second beside it (it found the path held).
      const atPath = readState(path)
      expect(atPath.groups).toEqual([{ pgid, server: "memory" }])
      const beside = readdirSync(join(dir, "shared")).filter((n) => n !== "state.json")
      expect(beside).toHaveLength(1)
      expect(beside[0]).toMatch(/^state\.[0-9a-f-]{36}\.json$/)
      const secondRecord = readState(join(dir, "shared", beside[0]!))
      expect(secondRecord.instance).not.toBe(atPath.instance)
      expect(secondRecord.groups).toEqual([{ pgid: second.connection("memory")!.pid!, server: "memory" }])
      // The second closing takes its own record away, not the first's.
      await second.close()
      expect(readdirSync(join(dir, "shared"))).toEqual(["state.json"])
      expect(readState(path)).toEqual(atPath)
    } finally {
      await second?.close()
      await first.close()
    }
    expect(existsSync(path)).toBe(false)
  })

  it("a path held by a live host in another process is left alone, the new record goes beside it, and a dead host's record beside the path is reaped and removed", async () => {
    const shared = join(dir, "beside")
    mkdirSync(shared)
    const path = join(shared, "state.json")
    // A live host of another process (the test runner's parent stands for it): its record must survive.
    const live = JSON.stringify({ hostPid: process.ppid, instance: randomUUID(), groups: [] })
    writeFileSync(path, live)
    // A crashed host that wrote beside the path: its group (a real process carrying its instance id) is an orphan.
    const crashedInstance = randomUUID()
    const orphan = spawn("sleep", ["300"], { detached: true, stdio: "ignore", env: { ...process.env, [INSTANCE_ENV]: crashedInstance } })
    await spawned(orphan)
    const crashedFile = join(shared, `state.${crashedInstance}.json`)
    // pid 2^22 + 1 is above Linux's pid_max default: a host that is surely dead.
    writeFileSync(crashedFile, JSON.stringify({ hostPid: 4_194_305, instance: crashedInstance, groups: [{ pgid: orphan.pid, server: "s" }] }))
    const state = new HostStateFile(path)
    try {
      expect(state.reapOrphans()).toEqual([orphan.pid])
      await exitOf(orphan)
      expect(groupMembers(orphan.pid!)).toEqual([])
      expect(existsSync(crashedFile)).toBe(false)
      expect(readFileSync(path, "utf8")).toBe(live)
      state.claim()
      expect(state.path).toBe(join(shared, `state.${state.instance}.json`))
      expect(readState(state.path)).toEqual({ hostPid: process.pid, instance: state.instance, groups: [] })
      expect(readFileSync(path, "utf8")).toBe(live)
    } finally {
      killPid(orphan.pid!)
      state.clear()
    }
    expect(readdirSync(shared)).toEqual(["state.json"])
  })
})
