/**
 * Children die with the host, even when the host is killed with SIGKILL.
 *
 * 1. **Lifeline.** Each stdio server is started through a tiny `/bin/sh`
 *    wrapper that leads the server's process group (the stdio transport
 *    gives it one, in the host's session: src/transports/processGroup.ts).
 *    The host gives it an extra pipe on fd 3 and never
 *    writes to it; a watcher subshell blocks reading it. When the host dies,
 *    however it dies, the kernel closes the host's end, the read returns end
 *    of file, and the watcher sends SIGTERM to the whole group, then SIGKILL
 *    2 s later. The server itself talks over the inherited stdin/stdout (no
 *    copying through the wrapper) and never sees fd 3. When the server exits
 *    on its own, the wrapper SIGTERMs what is left of its group (the
 *    `npx → npm exec → sh → node` chains) and exits with the server's code.
 *    Cost: one `sh` (~1 MB) per server, no Node process.
 * 2. **State file.** The host records its pid, an instance id and every
 *    process group it started. A new host reads the records of its path
 *    first: for each whose host is dead, every process still in one of its
 *    groups whose environment carries that instance id
 *    (`MCP_ACTORS_HOST_INSTANCE`) is killed. The environment check keeps a
 *    recycled group id from ever hitting someone else's processes. Hosts
 *    sharing a path (two runs of one config) each keep a record of their own.
 */
import { randomUUID } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { basename, dirname, join } from "node:path"

/** Environment variable marking processes started by one host instance. */
export const INSTANCE_ENV = "MCP_ACTORS_HOST_INSTANCE"

/**
 * The wrapper, run as `sh -c LIFELINE_SCRIPT mcp-actors-lifeline COMMAND ARGS…`.
 * POSIX sh gives asynchronous commands /dev/null as stdin, so stdin is first
 * duplicated to fd 4 and handed back explicitly.
 */
export const LIFELINE_SCRIPT = [
  "exec 4<&0",
  "\"$@\" <&4 4<&- 3<&- &",
  "child=$!",
  "exec 4<&-",
  // The watcher: ignores TERM (it sends it), ends the group when fd 3 reaches EOF.
  "( trap '' TERM INT HUP; while read -r _ <&3; do :; done; kill -TERM 0; sleep 2; kill -KILL 0 ) >/dev/null 2>&1 </dev/null &",
  "watch=$!",
  "exec 3<&-",
  "trap 'kill -TERM $child 2>/dev/null' TERM INT HUP",
  "wait $child; code=$?",
  "while kill -0 $child 2>/dev/null; do wait $child; code=$?; done",
  // The server is gone: end its leftovers (grandchildren), then the watcher.
  "trap '' TERM; kill -TERM 0 2>/dev/null; kill -KILL $watch 2>/dev/null",
  "exit $code"
].join("\n")

/** The command line that runs `command args` under the lifeline wrapper. */
export const withLifeline = (command: string, args: ReadonlyArray<string>): { readonly command: string; readonly args: ReadonlyArray<string> } =>
  process.platform === "win32"
    ? { command, args }
    : { command: "/bin/sh", args: ["-c", LIFELINE_SCRIPT, "mcp-actors-lifeline", command, ...args] }

interface StateRecord {
  readonly hostPid: number
  readonly instance: string
  readonly groups: ReadonlyArray<{ readonly pgid: number; readonly server: string }>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Live processes (not zombies) in process group `pgid` whose environment has `INSTANCE_ENV=instance`. */
const membersOf = (pgid: number, instance: string): ReadonlyArray<number> => {
  if (process.platform !== "linux") return []
  const found: Array<number> = []
  const marker = `${INSTANCE_ENV}=${instance}`
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return []
  }
  for (const name of entries) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3)
      if (Number(fields[2]) !== pgid || fields[0] === "Z" || fields[0] === "X") continue
      const environ = readFileSync(`/proc/${name}/environ`, "latin1").split("\0")
      if (environ.includes(marker)) found.push(Number(name))
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found
}

/** The default state file: one per config file, under `$XDG_STATE_HOME/mcp-actors`. */
export const defaultStateFile = (key: string): string => {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state")
  const safe = key.replace(/[^A-Za-z0-9._-]+/g, "_").slice(-120)
  return join(base, "mcp-actors", `host-${safe || "default"}.json`)
}

/** The instances of the hosts of this process that hold a record ({@link HostStateFile.claim}): alive, whatever their pid says. */
const claimed = new Set<string>()

const readRecord = (file: string): StateRecord | undefined => {
  try {
    const record = JSON.parse(readFileSync(file, "utf8")) as StateRecord
    return typeof record === "object" && record !== null && typeof record.instance === "string" && Array.isArray(record.groups) ? record : undefined
  } catch {
    return undefined
  }
}

/** A record's host still runs: a host of this process that claimed it, or another live process (a pid equal to ours and unclaimed is a recycled one). */
const heldByLiveHost = (record: StateRecord): boolean =>
  claimed.has(record.instance) || (record.hostPid !== process.pid && isAlive(record.hostPid))

/**
 * What a host records about the process groups it started.
 *
 * Why a record of its own per host: two hosts on one path (two runs of one config, two embedders of the
 * default file) each overwrote the other's record, and the first to close deleted it, so a crash of the
 * other left nothing to reap. A host whose path holds a live host's record writes beside it
 * (`NAME.INSTANCE.json`), and the next host reaps every dead record of the path and beside it.
 */
export class HostStateFile {
  readonly instance = randomUUID()
  private readonly groups = new Map<number, string>()

  /** The path asked for: where the records of this path's hosts are looked for. */
  readonly requested: string
  #path: string

  constructor(path: string) {
    this.requested = path
    this.#path = path
  }

  /** Where this host writes: the path asked for, or beside it while a live host holds that ({@link claim}). */
  get path(): string {
    return this.#path
  }

  /** The records of this path: its own file and those written beside it. */
  private records(): Array<string> {
    const dir = dirname(this.requested)
    const name = basename(this.requested, ".json")
    let names: Array<string>
    try {
      names = readdirSync(dir)
    } catch {
      return []
    }
    const beside = names.filter((n) => n.startsWith(`${name}.`) && n.endsWith(".json") && UUID.test(n.slice(name.length + 1, -5)))
    return [this.requested, ...beside.map((n) => join(dir, n))]
  }

  /**
   * Reap what crashed earlier hosts of this path left: returns the pids killed. A record whose host
   * is still alive is left alone (another host owns it); a dead host's record written beside the
   * path is removed once reaped.
   */
  reapOrphans(): ReadonlyArray<number> {
    const killed: Array<number> = []
    for (const file of this.records()) {
      const record = readRecord(file)
      if (record === undefined || heldByLiveHost(record)) continue
      for (const group of record.groups) {
        if (!Number.isInteger(group?.pgid) || group.pgid <= 1) continue
        for (const pid of membersOf(group.pgid, record.instance)) {
          try {
            process.kill(pid, "SIGKILL")
            killed.push(pid)
          } catch {
            // already gone
          }
        }
      }
      if (file !== this.requested) rmSync(file, { force: true })
    }
    return killed
  }

  /**
   * This host holds a record from now on (written at once, with no group yet, so that a host started
   * next finds it taken): at the path asked for, or beside it while a live host holds that.
   */
  claim(): void {
    const held = readRecord(this.requested)
    this.#path = held !== undefined && heldByLiveHost(held)
      ? join(dirname(this.requested), `${basename(this.requested, ".json")}.${this.instance}.json`)
      : this.requested
    claimed.add(this.instance)
    this.write()
  }

  add(pgid: number, server: string): void {
    this.groups.set(pgid, server)
    this.write()
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.write()
  }

  /** The host shut down cleanly: nothing to reap. */
  clear(): void {
    this.groups.clear()
    claimed.delete(this.instance)
    try {
      rmSync(this.path, { force: true })
    } catch {
      // best effort
    }
  }

  private write(): void {
    const record: StateRecord = {
      hostPid: process.pid,
      instance: this.instance,
      groups: [...this.groups].map(([pgid, server]) => ({ pgid, server }))
    }
    try {
      mkdirSync(dirname(this.path), { recursive: true })
      const tmp = `${this.path}.${process.pid}.tmp`
      writeFileSync(tmp, JSON.stringify(record))
      renameSync(tmp, this.path)
    } catch {
      // A read-only home must not stop the host; only the reaping after a crash is lost.
    }
  }
}
