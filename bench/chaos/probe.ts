/**
 * Shared by the chaos scripts: start a CLI process under `bench/heap-probe.ts`
 * (heap after GC, live handles), and read what the OS knows of it (open fds,
 * the processes below it, and any process left over whose command line names
 * a marker — an orphan reparented away from the host).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { ROOT, freePort, sleep } from "../lib.ts"

export interface Probed {
  readonly child: ChildProcess
  readonly pid: number
  readonly statsPort: number
  readonly out: () => string
  readonly err: () => string
  readonly onLine: (f: (line: string) => void) => void
  readonly exited: Promise<number | null>
}

/** `node --expose-gc --import bench/heap-probe.ts <args>` with a stats port. */
export const startProbed = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Probed> => {
  const statsPort = await freePort()
  const child = spawn(process.execPath, ["--expose-gc", "--import", join(ROOT, "bench", "heap-probe.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, MCP_BENCH_STATS_PORT: String(statsPort) },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let out = "", err = ""
  const listeners: Array<(l: string) => void> = []
  let partial = ""
  child.stdout!.setEncoding("utf8").on("data", (c: string) => {
    out += c
    if (out.length > 1_000_000) out = out.slice(-500_000)
    partial += c
    let i
    while ((i = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      for (const l of listeners) l(line)
    }
  })
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    err += c
    if (err.length > 1_000_000) err = err.slice(-500_000)
  })
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  return { child, pid: child.pid!, statsPort, out: () => out, err: () => err, onLine: (f) => listeners.push(f), exited }
}

export interface Stats {
  readonly heapMB: number
  readonly rssMB: number
  readonly handles: Record<string, number>
  readonly fds: number
}

export const stats = async (p: Probed): Promise<Stats> => {
  const r = await fetch(`http://127.0.0.1:${p.statsPort}/__stats?gc=1`, { signal: AbortSignal.timeout(30_000) })
  const j = await r.json() as { heapUsed: number; rss: number; handles: Record<string, number> }
  return { heapMB: +(j.heapUsed / 1048576).toFixed(2), rssMB: +(j.rss / 1048576).toFixed(1), handles: j.handles, fds: fdCount(p.pid) }
}

export const snapshot = async (p: Probed): Promise<string> => {
  const r = await fetch(`http://127.0.0.1:${p.statsPort}/__snapshot`, { signal: AbortSignal.timeout(120_000) })
  return ((await r.json()) as { file: string }).file
}

export const fdCount = (pid: number): number => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return -1
  }
}

interface Proc { readonly pid: number; readonly ppid: number; readonly stat: string; readonly cmd: string }

export const processes = (): Array<Proc> =>
  execFileSync("ps", ["-eo", "pid=,ppid=,stat=,args="], { encoding: "utf8" }).split("\n").filter(Boolean).map((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l)!
    return { pid: Number(m[1]), ppid: Number(m[2]), stat: m[3]!, cmd: m[4]! }
  })

/** Every process below `root` (not `root` itself). */
export const descendants = (root: number, all = processes()): Array<Proc> => {
  const out: Array<Proc> = []
  const walk = (pid: number) => {
    for (const p of all) if (p.ppid === pid) {
      out.push(p)
      walk(p.pid)
    }
  }
  walk(root)
  return out
}

/** Processes whose command line holds `marker` and that are not below `root`: orphans. */
export const orphans = (root: number, marker: string): Array<Proc> => {
  const all = processes()
  const below = new Set(descendants(root, all).map((p) => p.pid))
  return all.filter((p) => p.cmd.includes(marker) && !below.has(p.pid) && p.pid !== root && p.pid !== process.pid && !p.cmd.startsWith("ps "))
}

export { sleep }

/** The gateway URL a `mcp-actors host --serve-http` child prints on stderr, once it does (polled: a child's output, up to 30 s). */
export const gatewayUrl = async (host: Probed): Promise<string | undefined> => {
  for (let i = 0; i < 300; i++) {
    const url = /gateway on (http:\/\/\S+\/mcp)/.exec(host.err())?.[1]
    if (url !== undefined) return url
    await sleep(100)
  }
  return undefined
}
