/**
 * `npm start` and the bin under npm leave no server behind when the npm process
 * gets SIGTERM: `npm start` execs the launcher (no `sh -c` in between), and a
 * server run through a shell npm spawns (`npx mcp-actors`, `npm exec -c …`)
 * stops when that shell dies and it is re-parented. Real processes and sockets.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { connect } from "node:net"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { settles } from "./support/waitFor.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

const descendants = (pid: number): Array<number> => {
  const out = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" }).stdout
  const rows = out.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number) as [number, number])
  const found: Array<number> = []
  const walk = (p: number) => { for (const [c, pp] of rows) if (pp === p) { found.push(c); walk(c) } }
  walk(pid)
  return found
}
const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, "127.0.0.1")
    s.once("connect", () => { s.destroy(); resolve(false) })
    s.once("error", () => resolve(true))
  })
const listeningUrl = (child: ChildProcess): Promise<URL> =>
  new Promise((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/mcp)$/m.exec(out)
      if (m) resolve(new URL(m[1]!))
    })
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${out}`)))
  })
const exited = (child: ChildProcess): Promise<unknown> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", r))
// The server needs a moment to drain and close after the signal (or to notice its parent is gone).
const eventually = (check: () => boolean | Promise<boolean>, ms = 15_000): Promise<boolean> => settles(check, { timeoutMs: ms, stepMs: 100 })

const stopsWithNpm = async (args: ReadonlyArray<string>) => {
  const npm = spawn("npm", args, { cwd: root, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] })
  let server: Array<number> = []
  try {
    const url = await listeningUrl(npm)
    server = descendants(npm.pid!)
    expect(server.length).toBeGreaterThan(0)
    expect(await refused(Number(url.port))).toBe(false)
    npm.kill("SIGTERM")
    await exited(npm)
    expect(await eventually(() => server.every((pid) => !alive(pid))), `left running: ${server.filter(alive).join(", ")}`).toBe(true)
    expect(await refused(Number(url.port))).toBe(true)
  } finally {
    for (const pid of [...server, ...descendants(npm.pid!)]) try { process.kill(pid, "SIGKILL") } catch { /* gone */ }
    npm.kill("SIGKILL")
  }
}

describe("SIGTERM to npm", () => {
  it("npm start: the server stops and its port closes", () => stopsWithNpm(["start"]), 60_000)
  it("a shell between npm and the server (npm exec -c, as npx runs a bin): the server stops too", () =>
    stopsWithNpm(["exec", "-c", "node src/cli/mcp-actors.cjs serve --http 0"]), 60_000)
})
