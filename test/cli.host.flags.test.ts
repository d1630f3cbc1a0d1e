/**
 * `mcp-actors host` beyond the basics of cli.host.test.ts: the live table redrawn in
 * place on a TTY (the drawer on a fake terminal that interprets its escape codes),
 * Ctrl-C, `--serve-ws PORT` with the official SDK client, and `--import` reading the
 * client config files of a HOME of its own. Real processes: our CLI and
 * `@modelcontextprotocol/server-memory`; no process is left behind.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { afterEach, describe, expect, it } from "vitest"
import { renderStatusTable, statusTableDrawer } from "../src/cli/host.ts"
import type { ServerView } from "../src/host/McpHost.ts"
import { condition } from "./support/condition.ts"
import { processesOf, processGroupAlive } from "./support/processes.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
})

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "cli-host-flags-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const writeJson = (path: string, value: unknown): string => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify(value))
  return path
}

const memoryServer = (file: string) => ({ command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: file } })

// ---------------------------------------------------------------------------------------------
// A terminal, as far as the drawer needs one: printable text (wrapping at `columns`, with the
// deferred wrap of xterm: a line of exactly `columns` characters and its newline take one row),
// "\n" (as a tty's onlcr makes it: next row, column 0), CSI n F (cursor to the start of the line
// n up) and CSI 0 J / CSI J (clear from the cursor to the end of the screen). Any other escape
// fails the test, so a change of escape codes is seen here.
// ---------------------------------------------------------------------------------------------
const terminal = (columns: number) => {
  const rows: Array<string> = [""]
  let row = 0
  let col = 0
  const put = (ch: string) => {
    if (col === columns) {
      row++
      col = 0
    }
    rows[row] ??= ""
    rows[row] = rows[row]!.padEnd(col).slice(0, col) + ch + rows[row]!.slice(col + 1)
    col++
  }
  return {
    write(text: string) {
      for (let i = 0; i < text.length; i++) {
        const ch = text[i]!
        if (ch === "\x1b") {
          const m = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i))
          if (m === null) throw new Error(`unknown escape at ${JSON.stringify(text.slice(i, i + 8))}`)
          const [all, arg, op] = m
          if (op === "F") {
            row = Math.max(0, row - Number(arg || "1"))
            col = 0
          } else if (op === "J" && (arg === "" || arg === "0")) {
            rows[row] = (rows[row] ?? "").slice(0, col)
            rows.length = row + 1
          } else throw new Error(`unexpected escape ${JSON.stringify(all)}`)
          i += all!.length - 1
        } else if (ch === "\n") {
          row++
          col = 0
          rows[row] ??= ""
        } else if (ch < " ") throw new Error(`control character ${JSON.stringify(ch)} written to the terminal`)
        else put(ch)
      }
    },
    /** The screen's rows down to the cursor's (the last one, where the cursor rests after a frame's "\n", is empty then). */
    screen: (): Array<string> => rows.slice(0, row + 1)
  }
}

/** A fake `process.stdout`: what was written, call by call, and (on a "TTY") what a terminal shows. */
const fakeOut = (isTTY: boolean, columns = 100) => {
  const screen = terminal(columns)
  const writes: Array<string> = []
  return {
    isTTY, columns, writes, screen: screen.screen,
    write(text: string) {
      writes.push(text)
      screen.write(text)
      return true
    }
  }
}

/** The drawer with frames to show: `next(frame)` draws `frame`; the widths the drawer asked for. */
const drawing = (out: ReturnType<typeof fakeOut>) => {
  let frame = ""
  const widths: Array<number> = []
  const draw = statusTableDrawer(out, (width) => (widths.push(width), frame))
  return { widths, next: (text: string) => ((frame = text), draw()) }
}

const view = (over: Partial<ServerView>): ServerView => ({
  name: "s", state: "ready", transport: "stdio", era: "legacy", protocolVersion: "2025-11-25", tools: 9, restarts: 0,
  lastError: undefined, uptimeMs: 5_000, generation: 1, parked: undefined, catalogHash: "x", pid: 1, ...over
})

const CUP = /\x1b\[\d*F/ // cursor to the start of a line above

describe("mcp-actors host: the status table on a TTY", () => {
  it("draws the first frame where the cursor is, then redraws in place: up over as many lines as the last frame had, cleared to the end of the screen", () => {
    const out = fakeOut(true)
    out.write("$ mcp-actors host mcp.json\n")
    const { next, widths } = drawing(out)
    next("host: starting\nSERVER  STATE\nmemory  starting")
    expect(out.writes[1]).not.toMatch(CUP)
    expect(out.screen()).toEqual(["$ mcp-actors host mcp.json", "host: starting", "SERVER  STATE", "memory  starting", ""])
    next("host: ready\nSERVER  STATE\nmemory  ready")
    expect(out.writes[2]).toMatch(/^\x1b\[3F\x1b\[0J/)
    // the shell's line is kept, the old frame is gone, the new one is where it was
    expect(out.screen()).toEqual(["$ mcp-actors host mcp.json", "host: ready", "SERVER  STATE", "memory  ready", ""])
    expect(widths).toEqual([100, 100]) // the terminal's columns
  })

  it("a frame with fewer lines leaves no line of the longer one below it, and the next moves up by the shorter one's count", () => {
    const out = fakeOut(true)
    const { next } = drawing(out)
    next("host: ready\nSERVER  STATE\nmemory  ready\nnotes   ready")
    next("host: ready\nSERVER  STATE")
    expect(out.writes[1]).toMatch(/^\x1b\[4F\x1b\[0J/)
    expect(out.screen()).toEqual(["host: ready", "SERVER  STATE", ""])
    next("host: degraded\nSERVER  STATE\nmemory  restarting")
    expect(out.writes[2]).toMatch(/^\x1b\[2F\x1b\[0J/)
    expect(out.screen()).toEqual(["host: degraded", "SERVER  STATE", "memory  restarting", ""])
  })

  it("asks for the frame at the terminal's width: the real table on 60 columns redraws in place, no line wrapped onto a row of its own", () => {
    const out = fakeOut(true, 60)
    const long = "handshake failed: MCP error -32603: the upstream said something much longer than a terminal line"
    const rows = [view({ name: "memory" }), view({ name: "flaky", state: "restarting", restarts: 3, lastError: long })]
    const draw = statusTableDrawer(out, (width) => renderStatusTable(rows, "degraded", width))
    draw()
    rows[1] = view({ name: "flaky", restarts: 3, lastError: long })
    draw()
    draw()
    expect(out.screen()).toEqual([...renderStatusTable(rows, "degraded", 60).split("\n"), ""])
    expect(out.screen().every((line) => line.length <= 60)).toBe(true)
  })

  it("an upstream's error message with a newline and escape codes stays on its row: nothing of it reaches the terminal as a control, and the redraw still covers the frame", () => {
    const out = fakeOut(true, 160)
    // What a server answered to initialize (see the CLI test below): its message, verbatim, in lastError.
    const hostile = "handshake failed: -32603 first line\nsecond line \x1b[2J\x1b]0;pwned\x07 cleared\ttab"
    const rows = [view({ name: "memory" }), view({ name: "bad", state: "restarting", restarts: 1, lastError: hostile })]
    const draw = statusTableDrawer(out, (width) => renderStatusTable(rows, "degraded", width))
    draw()
    rows[1] = view({ name: "bad", state: "starting", restarts: 2, lastError: hostile })
    draw()
    const screen = out.screen()
    expect(screen).toHaveLength(2 + rows.length + 1)
    expect(screen).toEqual([...renderStatusTable(rows, "degraded", 160).split("\n"), ""])
    expect(screen[3]).toMatch(/^bad\s+starting\s.*first line second line .*cleared tab$/)
  })

  it("a stream that is not a TTY gets each frame appended, 200 columns wide, with no escape code", () => {
    for (const isTTY of [false, undefined]) {
      const writes: Array<string> = []
      const widths: Array<number> = []
      const frames = ["host: starting\nSERVER  STATE\nmemory  starting", "host: ready\nSERVER  STATE\nmemory  ready"]
      let frame = 0
      const draw = statusTableDrawer({ ...(isTTY === undefined ? {} : { isTTY }), columns: 80, write: (t) => writes.push(t) }, (width) => (widths.push(width), frames[frame++]!))
      draw()
      draw()
      expect(writes).toEqual(frames.map((f) => `${f}\n`))
      expect(writes.join("")).not.toContain("\x1b")
      expect(widths).toEqual([200, 200])
    }
  })
})

// ---------------------------------------------------------------------------------------------
// The CLI as a real process.
// ---------------------------------------------------------------------------------------------

/** Every live descendant of `pid` (by parent pid, from `ps`). */
const descendants = (pid: number): Array<number> => {
  const table = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" }).trim().split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number])
  const found: Array<number> = []
  const walk = (parent: number) => {
    for (const [child, ppid] of table) if (ppid === parent && !found.includes(child)) (found.push(child), walk(child))
  }
  walk(pid)
  return found
}

/** Of `pids`, those still running (not zombies) or still leading a live process group. */
const leftOf = (pids: ReadonlyArray<number>): Array<string> => pids.flatMap((pid) => processesOf(pid))

type StatusLine = { readonly type: "status"; readonly name: string; readonly state: string; readonly pid: number; readonly tools: number }

/** Kill, after a test, what is left of a CLI run: its descendants (with their process groups) while it still runs, then the CLI. */
const killTree = (child: ChildProcess): void => {
  if (child.exitCode !== null || child.signalCode !== null) return // its servers go with it (the lifeline)
  for (const pid of descendants(child.pid!)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL")
      } catch {
        // not a group leader, or gone
      }
    }
  }
  child.kill("SIGKILL")
}

/**
 * `node src/cli/main.ts host ...args` with its stdout (text, and its JSON lines under --json), its
 * stderr lines, waits on both (no polling), and its end ("close": after its output is read).
 */
const runHost = (args: ReadonlyArray<string>, options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly detached?: boolean } = {}) => {
  const child: ChildProcess = spawn(process.execPath, [MAIN, "host", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.detached === true ? { detached: true } : {})
  })
  cleanups.push(() => killTree(child))
  const changes = condition()
  let stdout = ""
  const stderr: Array<string> = []
  child.stdout!.setEncoding("utf8").on("data", (d: string) => ((stdout += d), changes.changed()))
  createInterface({ input: child.stderr! }).on("line", (l) => (stderr.push(l), changes.changed()))
  let closed = false
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => ((closed = true), changes.changed(), resolve({ code, signal })))
  )
  const statuses = (): Array<StatusLine> =>
    stdout.split("\n").slice(0, -1).map((l) => JSON.parse(l) as { type?: string }).filter((l): l is StatusLine => l.type === "status")
  const ready = (name: string) => statuses().find((s) => s.name === name && s.state === "ready")
  /** Resolves to what `look` finds, once it finds something; fails (with stdout and stderr) if the host exits first, or after 30 s. */
  const until = async <T>(look: () => T | undefined, what: string): Promise<T> => {
    const failed = (why: string) => new Error(`${why}\nstdout:\n${stdout}\nstderr:\n${stderr.join("\n")}`)
    await changes.when(() => look() !== undefined || closed, what, 30_000).catch((e: Error) => Promise.reject(failed(e.message)))
    const found = look()
    if (found === undefined) throw failed(`the host exited before ${what}`)
    return found
  }
  /** The host's descendants now (its servers, their lifeline wrappers), for the checks after its exit. */
  const started = (): Array<number> => descendants(child.pid!)
  return { child, stdout: () => stdout, stderr, exit, statuses, ready, until, started }
}

/** A stdio server that answers every request with an error whose message has a newline and escape codes. */
const HOSTILE_SERVER = `
import { createInterface } from "node:readline"
createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line)
  if (m.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, error: { code: -32603, message: "first line\\nsecond line \\u001b[2J\\u001b]0;pwned\\u0007 cleared" } }) + "\\n")
})
`

describe("mcp-actors host CONFIG on a pipe (no --json)", { timeout: 60_000 }, () => {
  it("prints the table once, then one line per change, with no escape code: an upstream's multi-line error stays on its line", async () => {
    const dir = tempDir()
    const bad = join(dir, "bad.mjs")
    writeFileSync(bad, HOSTILE_SERVER)
    const config = writeJson(join(dir, "mcp.json"), {
      mcpServers: { memory: memoryServer(join(dir, "memory.jsonl")), bad: { command: process.execPath, args: [bad], protocol: "legacy" } }
    })
    const host = runHost([config, "--state-file", join(dir, "state.json")])
    // Two changes of "bad" after its handshake failed (a restart): its error is on each.
    await host.until(() => ((host.stdout().match(/^bad: .*handshake failed/gm) ?? []).length >= 2 ? true : undefined), "two changes of bad with its error")
    const started = host.started()
    host.child.kill("SIGTERM")
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(leftOf([host.child.pid!, ...started])).toEqual([])
    const stdout = host.stdout()
    expect(stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/)
    const lines = stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^host: \w+$/)
    expect(lines[1]).toMatch(/^SERVER\s+STATE\s+ERA\/VERSION\s+TOOLS\s+RESTARTS\s+UPTIME\s+LAST ERROR$/)
    expect(lines[2]).toMatch(/^memory\s+ready\s/)
    expect(lines[3]).toMatch(/^bad\s+\w+\s/)
    for (const line of lines.slice(4)) expect(line).toMatch(/^(memory|bad): [a-z]+( \(.*\))?$/)
    expect(lines.find((l) => l.startsWith("bad: "))).toMatch(/first line second line .*cleared\)$/)
  })
})

describe("mcp-actors host CONFIG: stopping", { timeout: 60_000 }, () => {
  it("Ctrl-C (SIGINT to its process group) stops every server, says so, and exits 0 leaving no process", async () => {
    const dir = tempDir()
    const config = writeJson(join(dir, "mcp.json"), { mcpServers: { memory: memoryServer(join(dir, "memory.jsonl")) } })
    // A group of its own, as a shell's foreground job: Ctrl-C is SIGINT to that group.
    const host = runHost([config, "--json", "--state-file", join(dir, "state.json")], { detached: true })
    const memory = await host.until(() => host.ready("memory"), "memory ready")
    const started = host.started()
    expect(started).toContain(memory.pid)
    process.kill(-host.child.pid!, "SIGINT")
    // the first signal closes gracefully: the process ends by itself, exit 0 (a second one would be 130)
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(host.stderr).toContain("mcp-actors: SIGINT, shutting down (1 servers)")
    expect(host.stderr.at(-1)).toBe("mcp-actors: stopped")
    expect(processGroupAlive(memory.pid)).toBe(false)
    expect(leftOf([host.child.pid!, ...started])).toEqual([])
  })
})

describe("mcp-actors host CONFIG: Ctrl-C while its servers start", { timeout: 60_000 }, () => {
  it("gives the start up: the starting server's group is killed, the state file cleared, \"stopped\" said, exit 0 at once (not after the connect timeout)", async () => {
    const dir = tempDir()
    // The server says it runs (its pid, over a socket the test listens on) and never answers initialize.
    const told = createServer()
    cleanups.push(() => void told.close())
    await new Promise<void>((r) => told.listen(0, "127.0.0.1", r))
    const port = (told.address() as AddressInfo).port
    const serverPid = new Promise<number>((resolve) => told.once("connection", (socket) => socket.setEncoding("utf8").once("data", (d: string) => resolve(Number(d)))))
    const silent = `const s = require("net").connect(${port}, "127.0.0.1", () => s.write(String(process.pid))); process.stdin.resume(); setInterval(() => {}, 1e6)`
    const config = writeJson(join(dir, "mcp.json"), { mcpServers: { silent: { command: process.execPath, args: ["-e", silent], timeouts: { connect: 120_000 } } } })
    const stateFile = join(dir, "state.json")
    const host = runHost([config, "--json", "--state-file", stateFile], { detached: true })
    const pid = await serverPid
    // Its group (the lifeline wrapper's), recorded in the state file: the start is under way.
    const group = execFileSync("ps", ["-o", "pgid=", "-p", String(pid)], { encoding: "utf8" }).trim()
    expect(processGroupAlive(Number(group))).toBe(true)
    expect(readFileSync(stateFile, "utf8")).toContain(`"pgid":${group}`)
    process.kill(-host.child.pid!, "SIGINT")
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(host.stderr).toContain("mcp-actors: SIGINT, shutting down (while starting 1 servers)")
    expect(host.stderr.at(-1)).toBe("mcp-actors: stopped")
    expect(processGroupAlive(Number(group))).toBe(false)
    expect(existsSync(stateFile)).toBe(false)
    expect(host.statuses()).toEqual([])
  })
})

describe("mcp-actors host CONFIG --serve-ws PORT", { timeout: 60_000 }, () => {
  it("serves the aggregated catalog over WebSocket to the official SDK client: every memory tool as memory__<tool>, calls reach the server; SIGTERM exits 0 leaving no process", async () => {
    const dir = tempDir()
    const config = writeJson(join(dir, "mcp.json"), { mcpServers: { memory: memoryServer(join(dir, "memory.jsonl")) } })
    const host = runHost([config, "--json", "--serve-ws", "0", "--state-file", join(dir, "state.json")])
    // What the memory server itself lists, asked directly (over stdio, by the SDK) while the host starts.
    const direct = new Client({ name: "direct", version: "1" })
    const [url, own] = await Promise.all([
      host.until(() => host.stderr.map((l) => /gateway on (\S+)/.exec(l)?.[1]).find((u) => u !== undefined), "the gateway's URL on stderr"),
      direct.connect(new StdioClientTransport({ command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "direct.jsonl") }, stderr: "ignore" }))
        .then(() => direct.listTools())
        .finally(() => direct.close())
    ])
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mcp$/)
    // stdout and stderr are two pipes: the status line printed before the URL may still be on its way
    const memory = await host.until(() => host.ready("memory"), "memory ready")
    const client = new Client({ name: "sdk-ws", version: "1" })
    await client.connect(new WebSocketClientTransport(new URL(url)))
    try {
      const names = own.tools.map((t) => t.name)
      expect(names).toContain("read_graph")
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(names.map((n) => `memory__${n}`).sort())
      const created = await client.callTool({ name: "memory__create_entities", arguments: { entities: [{ name: "gateway-ws", entityType: "test", observations: ["over WebSocket"] }] } })
      expect(created.isError).not.toBe(true)
      const graph = await client.callTool({ name: "memory__read_graph", arguments: {} })
      expect(graph.isError).not.toBe(true)
      expect(JSON.stringify(graph.content)).toContain("over WebSocket")
    } finally {
      await client.close()
    }
    const started = host.started()
    expect(started).toContain(memory.pid)
    host.child.kill("SIGTERM")
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(host.stderr.at(-1)).toBe("mcp-actors: stopped")
    expect(processGroupAlive(memory.pid)).toBe(false)
    expect(leftOf([host.child.pid!, ...started])).toEqual([])
  })
})

describe("mcp-actors host --import", { timeout: 60_000 }, () => {
  /** A HOME and a project directory of their own (XDG and APPDATA unset: the Linux defaults under HOME apply). */
  const machine = () => {
    const home = tempDir()
    const cwd = join(home, "project")
    mkdirSync(cwd)
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home }
    for (const key of ["XDG_CONFIG_HOME", "XDG_STATE_HOME", "APPDATA", "npm_command"]) delete env[key]
    return { home, cwd, env }
  }

  it("starts the servers of the client config files found in HOME (Claude Desktop, Cursor); a name defined again is reported with both files and the first definition runs", async () => {
    const { home, cwd, env } = machine()
    const desktop = writeJson(join(home, ".config", "Claude", "claude_desktop_config.json"), { mcpServers: { notes: memoryServer(join(home, "notes.jsonl")) } })
    const cursor = writeJson(join(home, ".cursor", "mcp.json"), {
      mcpServers: { memory: memoryServer(join(home, "memory.jsonl")), notes: { command: join(home, "not-a-server") } }
    })
    const host = runHost(["--import", "--json"], { cwd, env })
    const [notes, memory] = [await host.until(() => host.ready("notes"), "notes ready"), await host.until(() => host.ready("memory"), "memory ready")]
    expect(notes.tools).toBeGreaterThan(0)
    expect(memory.tools).toBe(notes.tools)
    expect(host.stderr).toContain(`mcp-actors host: server "notes": also defined in ${desktop}; that one is used (${cursor})`)
    expect(new Set(host.statuses().map((s) => s.name))).toEqual(new Set(["notes", "memory"]))
    const started = host.started()
    host.child.kill("SIGTERM")
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(host.stderr.at(-1)).toBe("mcp-actors: stopped")
    expect([processGroupAlive(notes.pid), processGroupAlive(memory.pid)]).toEqual([false, false])
    expect(leftOf([host.child.pid!, ...started])).toEqual([])
  })

  it("with a CONFIG beside it, CONFIG's servers come first: an imported server of the same name is reported and not started", async () => {
    const { home, cwd, env } = machine()
    const config = writeJson(join(home, "host.json"), { mcpServers: { memory: memoryServer(join(home, "memory.jsonl")) } })
    // Claude Code's local scope: ~/.claude.json, under the project's directory (the host's cwd).
    writeJson(join(home, ".claude.json"), { projects: { [cwd]: { mcpServers: { memory: { command: join(home, "not-a-server") } } } } })
    const host = runHost([config, "--import", "--json", "--state-file", join(home, "state.json")], { cwd, env })
    const memory = await host.until(() => host.ready("memory"), "memory ready")
    expect(host.stderr).toContain('mcp-actors host: server "memory": defined more than once; the first definition is used')
    expect(new Set(host.statuses().map((s) => s.name))).toEqual(new Set(["memory"]))
    const started = host.started()
    host.child.kill("SIGTERM")
    expect(await host.exit).toEqual({ code: 0, signal: null })
    expect(processGroupAlive(memory.pid)).toBe(false)
    expect(leftOf([host.child.pid!, ...started])).toEqual([])
  })
})
