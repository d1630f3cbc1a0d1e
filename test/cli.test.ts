import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const run = (...args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("mcp-actors CLI", () => {
  it("prints usage with --help (exit 0) and without a command (exit 2)", () => {
    const help = run("--help")
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: mcp-actors <command>/)
    for (const c of ["serve", "demo", "charts", "examples"]) expect(help.stdout).toContain(c)
    expect(run().code).toBe(2)
  })

  it.each(["serve", "demo", "charts", "examples"])("%s --help exits 0 with its usage", (command) => {
    const r = run(command, "--help")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`Usage: mcp-actors ${command}`))
  })

  it("rejects an unknown command, an unknown option and bad values with exit 2 and a clear message", () => {
    const unknown = run("frobnicate")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/)
    const badOption = run("serve", "--nope")
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toMatch(/Unknown option '--nope'/)
    const noTransport = run("serve")
    expect(noTransport.code).toBe(2)
    expect(noTransport.stderr).toMatch(/choose a transport/)
    const badExample = run("serve", "--stdio", "--example", "nope")
    expect(badExample.code).toBe(2)
    expect(badExample.stderr).toMatch(/unknown example "nope"/)
    const badNumber = run("serve", "--stdio", "--idle-timeout", "soon")
    expect(badNumber.code).toBe(2)
    expect(badNumber.stderr).toMatch(/--idle-timeout must be a non-negative integer/)
    // A flag that would do nothing: --metrics-port without --metrics, or with --http (whose port serves /metrics).
    const portWithoutMetrics = run("serve", "--ws", "0", "--metrics-port", "0")
    expect(portWithoutMetrics.code).toBe(2)
    expect(portWithoutMetrics.stderr).toMatch(/--metrics-port needs --metrics/)
    const portWithHttp = run("serve", "--http", "0", "--metrics", "--metrics-port", "0")
    expect(portWithHttp.code).toBe(2)
    expect(portWithHttp.stderr).toMatch(/with --http, \/metrics is served on the HTTP port/)
  }, 60_000) // seven process starts: generous on a busy 2-core machine

  it("lists the examples", () => {
    const r = run("examples")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^demo\s+/m)
  })

  it("demo spawns the server, prints every state transition, echoes and exits 0", () => {
    const r = run("demo", "--text", "round trip")
    expect(r.code).toBe(0)
    const states = r.stdout.split("\n").filter((l) => l.startsWith("state: ")).map((l) => l.slice(7))
    expect(states.slice(0, 3)).toEqual(["connecting", "initializing", "operating.keepalive.disabled|operating.activity.idle"])
    expect(states.at(-1)).toBe("closed")
    expect(r.stdout).toContain(`echo → "round trip"`)
  }, 30_000)
})

describe("example names", () => {
  it("match the example registry", async () => {
    const { exampleNames } = await import("../examples/names.ts")
    const { examples } = await import("../examples/index.ts")
    expect([...exampleNames].sort()).toEqual(Object.keys(examples).sort())
  })
})

/** Run `serve --stdio` as a real process: write `lines`, end stdin unless told not to, collect stdout lines and the exit. */
const serveStdio = (args: ReadonlyArray<string>, lines: ReadonlyArray<unknown>, options: { readonly endStdin?: boolean } = {}) =>
  new Promise<{ code: number | null; replies: Array<Record<string, any>>; stderr: string; ms: number }>((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, [cli, "serve", "--stdio", ...args], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("error", reject)
    child.on("close", (code) => {
      const replies = out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, any>)
      resolve({ code, replies, stderr, ms: Date.now() - started })
    })
    // One write, then EOF at once: as `printf '…' | mcp-actors serve --stdio` does.
    child.stdin.write(lines.map((l) => JSON.stringify(l) + "\n").join(""))
    if (options.endStdin !== false) child.stdin.end()
  })

const handshake = [
  { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "shell", version: "1" } } },
  { jsonrpc: "2.0", method: "notifications/initialized" }
]
const slow = (id: number, ms: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow", arguments: { ms } } })

describe("mcp-actors serve --stdio: stdin EOF and the handshake deadline", () => {
  it("stdin closed right after a request: the in-flight call is answered, then the process exits 0", async () => {
    const r = await serveStdio([], [...handshake, slow(1, 200), { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } }])
    expect(r.code).toBe(0)
    expect(r.replies.map((m) => m.id)).toEqual([0, 2, 1])
    expect(r.replies[2]!.result.content[0].text).toMatch(/waited 200 ms/)
    expect(r.stderr).toMatch(/session ended \(stdin ended\)/)
  }, 30_000)

  it("a call still running at the drain deadline is cancelled and the process exits 0 (the other replies are out)", async () => {
    const r = await serveStdio(["--drain-timeout", "300"], [...handshake, slow(1, 600_000), { jsonrpc: "2.0", id: 2, method: "ping" }])
    expect(r.code).toBe(0)
    expect(r.replies.map((m) => m.id)).toEqual([0, 2])
    expect(r.stderr).toMatch(/session ended \(stdin ended\)/)
  }, 30_000)

  it("a host that never initializes: the session ends at the handshake deadline, exit 1 with a clear message", async () => {
    const r = await serveStdio(["--handshake-timeout", "300"], [{ jsonrpc: "2.0", id: 1, method: "ping" }], { endStdin: false })
    expect(r.code).toBe(1)
    expect(r.replies).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }])
    expect(r.stderr).toMatch(/no initialize \/ notifications\/initialized within 300 ms \(handshake timeout\)/)
  }, 30_000)
})
