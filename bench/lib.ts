/**
 * Shared plumbing for `bench/stdio.ts` and `bench/http.ts`: locate and install
 * the neutral driver (`bench/peers/`, a copy of the shared kit), run it pinned with `taskset`, collect
 * its JSON lines, and turn them into median tables, ratios and target checks.
 *
 * Nothing here is timed by itself: every figure comes from `mcp-bench.mjs`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, homedir, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const BIN = join(ROOT, "src", "cli", "main.ts")

export const log = (s: string): void => {
  process.stderr.write(s + "\n")
}
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ------------------------------------------------------------------ the driver
/**
 * Directory holding `mcp-bench.mjs` and the comparison servers: `bench/peers/`
 * (a copy of the neutral kit; its dependencies are the project's devDependencies).
 * With `$MCP_BENCH_SRC` (another copy of the kit, possibly read-only) it is copied
 * to `$MCP_BENCH_CACHE` (default `~/.cache/mcp-actors-bench`) under a hash of its
 * files, and `npm ci` runs there once.
 */
export const prepareDriver = (): string => {
  const other = process.env["MCP_BENCH_SRC"]
  if (other === undefined) return join(ROOT, "bench", "peers")
  const src = resolve(other)
  if (!existsSync(join(src, "mcp-bench.mjs"))) {
    throw new Error(`cannot find the bench driver mcp-bench.mjs in MCP_BENCH_SRC=${src}`)
  }
  const files = readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name)
    .sort()
  const hash = createHash("sha256")
  for (const f of files) hash.update(f).update("\0").update(readFileSync(join(src, f))).update("\0")
  const cacheRoot = resolve(process.env["MCP_BENCH_CACHE"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "mcp-actors-bench"))
  const dir = join(cacheRoot, hash.digest("hex").slice(0, 16))
  if (!existsSync(join(dir, "node_modules", "undici"))) {
    mkdirSync(dir, { recursive: true })
    for (const f of files) cpSync(join(src, f), join(dir, f))
    log(`bench: installing the driver's dependencies in ${dir} (npm ci, once)`)
    const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] })
    if (r.status !== 0) throw new Error(`npm ci failed in ${dir}`)
  }
  return dir
}

// ------------------------------------------------------------------ CPU pinning
export interface Pinning {
  readonly server: ReadonlyArray<string>
  readonly driver: ReadonlyArray<string>
  readonly note: string
}
/** `taskset -c N` prefixes (server on CPU 1, driver on CPU 0) when taskset exists and there are ≥ 2 CPUs. */
export const pinning = (disabled: boolean): Pinning => {
  const n = cpus().length
  const has = spawnSync("taskset", ["-V"], { stdio: "ignore" }).status === 0
  if (disabled || !has || n < 2) {
    return { server: [], driver: [], note: disabled ? "pinning disabled (--no-pin)" : has ? `only ${n} CPU: not pinned` : "taskset not found: not pinned" }
  }
  const srv = process.env["SRV_CPU"] ?? "1"
  const cli = process.env["CLI_CPU"] ?? "0"
  return { server: ["taskset", "-c", srv], driver: ["taskset", "-c", cli], note: `server pinned to CPU ${srv}, driver to CPU ${cli} (taskset)` }
}

/** Quote an argv for `sh -c` (the driver's `--cmd` is run as `sh -c "exec CMD"`). */
export const shellJoin = (argv: ReadonlyArray<string>): string =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(" ")

// ------------------------------------------------------------------ running the driver
export type Result = Record<string, any> & { readonly bench: string; readonly label: string | null }

/**
 * Run `node mcp-bench.mjs SUB ...args` (pinned), forward its human lines to
 * stderr (indented) and return its JSON result line, or undefined on failure.
 */
export const runDriver = (driverDir: string, pin: Pinning, args: ReadonlyArray<string>, timeoutMs: number, script = join(driverDir, "mcp-bench.mjs")): Promise<Result | undefined> =>
  new Promise((done) => {
    const argv = [...pin.driver, process.execPath, script, ...args]
    const child = spawn(argv[0]!, argv.slice(1), { cwd: driverDir, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => process.stderr.write(c.replace(/^(?=.)/gm, "    ")))
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop()
      if (code !== 0 || line === undefined) {
        log(`    driver failed (exit ${code})`)
        return done(undefined)
      }
      try {
        done(JSON.parse(line) as Result)
      } catch {
        done(undefined)
      }
    })
  })

// ------------------------------------------------------------------ servers (HTTP)
export const freePort = (): Promise<number> =>
  new Promise((ok, fail) => {
    const s = createServer()
    s.unref()
    s.on("error", fail)
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      const port = typeof a === "object" && a ? a.port : 0
      s.close(() => ok(port))
    })
  })

export interface RunningServer {
  readonly label: string
  readonly pid: number
  readonly url: string
  readonly statsUrl: string | undefined
  readonly child: ChildProcess
  readonly output: () => string
  /** SIGTERM (then SIGKILL after 5 s); resolves when the process has exited. */
  readonly stop: () => Promise<void>
}

export interface ServerSpec {
  readonly label: string
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env?: Record<string, string>
  /** How we learn it is listening: a URL printed on stdout, or a GET that answers. */
  readonly ready: { readonly stdoutUrl: true } | { readonly poll: string }
  readonly url: string
  readonly statsUrl: string | undefined
}

export const startServer = async (spec: ServerSpec, timeoutMs = 15_000): Promise<RunningServer> => {
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (text += c))
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (text += c))
  const exited = new Promise<void>((r) => child.on("exit", () => r()))
  let dead = false
  void exited.then(() => (dead = true))
  const stop = async (): Promise<void> => {
    if (dead) return
    child.kill("SIGTERM")
    const t = setTimeout(() => child.kill("SIGKILL"), 5000)
    await exited
    clearTimeout(t)
  }
  const deadline = Date.now() + timeoutMs
  let url = spec.url
  for (;;) {
    if (dead) throw new Error(`${spec.label} exited before listening:\n${text}`)
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${spec.label} did not come up in ${timeoutMs} ms:\n${text}`)
    }
    if ("stdoutUrl" in spec.ready) {
      const m = /https?:\/\/[^\s]+\/mcp\b/.exec(text)
      if (m) {
        url = m[0]
        break
      }
    } else {
      try {
        await fetch(spec.ready.poll, { signal: AbortSignal.timeout(500) })
        break
      } catch {}
    }
    await sleep(50)
  }
  if (spec.statsUrl !== undefined) {
    // the stats endpoint may be a separate listener (bench/heap-probe.mjs): wait for it too
    for (;;) {
      try {
        await fetch(spec.statsUrl, { signal: AbortSignal.timeout(500) })
        break
      } catch {
        if (dead || Date.now() > deadline) {
          await stop()
          throw new Error(`${spec.label}: stats endpoint ${spec.statsUrl} never answered:\n${text}`)
        }
        await sleep(50)
      }
    }
  }
  return { label: spec.label, pid: child.pid!, url, statsUrl: spec.statsUrl, child, output: () => text, stop }
}

export const fetchJson = async (url: string): Promise<any> => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    return await r.json()
  } catch (e) {
    return { error: String((e as Error).message ?? e) }
  }
}

// ------------------------------------------------------------------ results
export interface ResultSink {
  readonly dir: string
  readonly file: string
  readonly add: (r: Result) => void
}
/** JSON lines go to `bench/results/` with `--save`, else to a fresh temp dir. */
export const resultSink = (name: string, save: boolean): ResultSink => {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
  const dir = save ? join(ROOT, "bench", "results") : mkdtempSync(join(tmpdir(), "mcp-actors-bench-"))
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${name}-${stamp}.jsonl`)
  writeFileSync(file, "")
  return {
    dir,
    file,
    add: (r) => writeFileSync(file, JSON.stringify(r) + "\n", { flag: "a" })
  }
}

// ------------------------------------------------------------------ statistics and tables
export const median = (xs: ReadonlyArray<number>): number | undefined => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2
}
export const fmt = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x)
    ? "–"
    : Math.abs(x) >= 1000
      ? Math.round(x).toLocaleString("en-US").replaceAll(",", " ")
      : Math.abs(x) >= 100
        ? String(Math.round(x))
        : Math.abs(x) >= 10
          ? x.toFixed(1)
          : Math.abs(x) >= 1
            ? x.toFixed(2)
            : x.toFixed(3)
/** "median (min..max)" or just the median when there is one value. */
export const spread = (xs: ReadonlyArray<number>): string => {
  const s = xs.filter((x) => Number.isFinite(x))
  if (s.length === 0) return "–"
  const m = fmt(median(s))
  return s.length === 1 ? m : `${m} (${fmt(Math.min(...s))}..${fmt(Math.max(...s))})`
}

export interface Metric {
  readonly name: string
  readonly pick: (r: Result) => number | undefined
}
/** Markdown table: one row per metric, one column per label, cells = median (min..max). */
export const table = (results: ReadonlyArray<Result>, labels: ReadonlyArray<string>, metrics: ReadonlyArray<Metric>): string => {
  const head = `| metric | ${labels.join(" | ")} |\n|---|${labels.map(() => "---|").join("")}`
  const rows = metrics.map((m) => {
    const cells = labels.map((l) => spread(results.filter((r) => r.label === l).map(m.pick).filter((x): x is number => typeof x === "number")))
    return `| ${m.name} | ${cells.join(" | ")} |`
  })
  return [head, ...rows].join("\n")
}

export interface Ratio {
  readonly name: string
  /** Per round: the value (undefined if that round lacks a result). */
  readonly perRound: (round: ReadonlyArray<Result>) => number | undefined
  /** Target: "≥ 2.5" → { op: ">=", value: 2.5 }. */
  readonly target?: { readonly op: ">=" | "<="; readonly value: number; readonly text: string }
}
/**
 * Ratios are computed per round (both servers measured back to back, so they
 * share the machine's noise) and summarized by their median.
 */
export const ratioTable = (rounds: ReadonlyArray<ReadonlyArray<Result>>, ratios: ReadonlyArray<Ratio>): { text: string; missed: Array<string> } => {
  const missed: Array<string> = []
  const rows = ratios.map((r) => {
    const vals = rounds.map(r.perRound).filter((x): x is number => typeof x === "number" && Number.isFinite(x))
    const m = median(vals)
    let verdict = ""
    if (r.target) {
      if (m === undefined) verdict = "no data"
      else {
        const ok = r.target.op === ">=" ? m >= r.target.value : m <= r.target.value
        verdict = ok ? "met" : "**missed**"
        if (!ok) missed.push(r.name)
      }
    }
    return `| ${r.name} | ${spread(vals)} | ${r.target?.text ?? ""} | ${verdict} |`
  })
  return { text: ["| ratio (median of per-round ratios; min..max) | value | target | verdict |", "|---|---|---|---|", ...rows].join("\n"), missed }
}

/** The result with `label` in a round, if any. */
export const pick = (round: ReadonlyArray<Result>, label: string, bench?: string): Result | undefined =>
  round.find((r) => r.label === label && (bench === undefined || r.bench === bench))

export const div = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

/** Round r runs the labels rotated by r, so no server always goes first. */
/** The `p`-quantile of `xs` (nearest rank, rounded). */
export const quantile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!
}

/** A ratio as a signed percentage (`+3.2 %`). */
export const signedPct = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`

/** Pin this process (the driver) as `pin` says, after it started. */
export const pinSelf = (pin: Pinning): void => {
  if (pin.driver.length > 0) spawnSync("taskset", ["-p", "-c", pin.driver.at(-1)!, String(process.pid)], { stdio: "ignore" })
}

export const rotate = <T>(xs: ReadonlyArray<T>, r: number): Array<T> => xs.map((_, i) => xs[(i + r) % xs.length]!)

// ------------------------------------------------------------------ which code was measured
/**
 * A short hash of the server's code (src/, machines/, examples/,
 * package.json) and the HEAD commit. Other engineers commit while a run is
 * going and every measurement starts a fresh server from the working tree, so
 * each result records what it measured and the summary warns if it changed.
 */
export const codeVersion = (): { readonly hash: string; readonly head: string | undefined } => {
  const h = createHash("sha256")
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && statSync(p).size < 4_000_000) h.update(p.slice(ROOT.length)).update("\0").update(readFileSync(p)).update("\0")
    }
  }
  for (const d of CODE_DIRS) walk(join(ROOT, d))
  h.update(readFileSync(join(ROOT, "package.json")))
  const r = spawnSync("git", ["--no-optional-locks", "rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" })
  return { hash: h.digest("hex").slice(0, 12), head: r.status === 0 ? r.stdout.trim() : undefined }
}

export interface CodeSnapshot {
  /** Directory to run the server from (a frozen copy, or the project root with --live). */
  readonly root: string
  readonly bin: string
  readonly hash: string
  readonly head: string | undefined
  readonly live: boolean
}
const CODE_DIRS = ["src", "machines", "examples"]
/**
 * Freeze the server's code for the whole run: copy src/, machines/, examples/,
 * package.json to `$TMPDIR/mcp-actors-code-<hash>/` (node_modules is
 * a symlink to ours) and run the server from there, so commits landing while
 * the bench runs do not mix versions. `live` runs the working tree instead
 * (then each result still records the code it saw).
 */
export const snapshotCode = (live: boolean): CodeSnapshot => {
  const v = codeVersion()
  if (live) return { root: ROOT, bin: BIN, ...v, live }
  const dir = join(tmpdir(), `mcp-actors-code-${v.hash}`)
  // A copy made from a checkout that is gone has a dangling node_modules link: make it again.
  if (existsSync(join(dir, "package.json")) && !existsSync(join(dir, "node_modules"))) rmSync(dir, { recursive: true, force: true })
  if (!existsSync(join(dir, "package.json"))) {
    const tmp = mkdtempSync(join(tmpdir(), "mcp-actors-code-tmp-"))
    for (const d of CODE_DIRS) if (existsSync(join(ROOT, d))) cpSync(join(ROOT, d), join(tmp, d), { recursive: true })
    for (const f of ["package.json", "tsconfig.json"]) if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(tmp, f))
    symlinkSync(join(ROOT, "node_modules"), join(tmp, "node_modules"), "dir")
    try {
      renameSync(tmp, dir)
    } catch {
      rmSync(tmp, { recursive: true, force: true }) // another run made it meanwhile
    }
  }
  return { root: dir, bin: join(dir, "src", "cli", "main.ts"), ...v, live }
}

/** "code a1b2c3 (HEAD 11ea779)", plus a warning line when results saw different code. */
export const codeNote = (results: ReadonlyArray<Result>): string => {
  const seen = new Map<string, Array<string>>()
  for (const r of results) {
    const c = r["code"] as { hash: string; head?: string } | undefined
    if (!c) continue
    const k = `${c.hash}${c.head ? ` (HEAD ${c.head})` : ""}`
    const where = `r${r["round"] ?? "?"}:${r["suite"] ? `${r["suite"]}/` : ""}${r.label}`
    seen.set(k, [...(seen.get(k) ?? []), where])
  }
  if (seen.size <= 1) return `code ${[...seen.keys()][0] ?? "unknown"}`
  return `**the code changed during the run** — ${[...seen].map(([k, w]) => `${k}: ${w.join(", ")}`).join("; ")}. Re-run for comparable numbers.`
}

export const machineNote = (): string => {
  const c = cpus()
  return `${c.length} × ${c[0]?.model ?? "unknown CPU"}, Node ${process.versions.node}, ${process.platform}`
}

/** A thread's time on a CPU in ns (Linux `/proc/<pid>/schedstat`, first field: exact, not ticks); undefined where it cannot be read. */
export const threadCpuNs = (pid: number | "self"): number | undefined => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "latin1").split(" ")[0])
  } catch {
    return undefined
  }
}

const TICKS = 100 // USER_HZ on Linux
/** CPU ms (user + system) process `pid` has used so far, from /proc. */
export const processCpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS
}

const MODERN_META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
/** A 2026-07-28 `tools/call` of the bench server's `echo` tool, or of `count` with a progress token. */
export const modernToolCall = (id: number, progress: boolean): string =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: progress
      ? { name: "count", arguments: { n: 1, stepMs: 0 }, _meta: { ...MODERN_META, progressToken: id } }
      : { name: "echo", arguments: { text: "hello" }, _meta: MODERN_META }
  })
