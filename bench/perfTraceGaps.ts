/**
 * The gateway's critical path from its syscalls: `perf trace` (Linux `perf`, root) on a gateway process and
 * on its upstream child, parsed into the user-space time between the syscalls that bound each direction:
 *
 * - *frame → upstream*: from the `read` of the client's WebSocket frame to the `write` of the request to the
 *   upstream's stdin (everything the gateway does before the upstream can start);
 * - *upstream → frame*: from the `read` of the upstream's line to the `writev`/`write` of the response frame;
 * - the two writes' own durations (a cold process pays more in the kernel too);
 * - the upstream's own *read → write* (its work on the request plus the tool's sleep: a 2026-07-28
 *   request costs the upstream more than a 2025 one).
 *
 * Medians over every call in the window, so a few µs are resolved where an end-to-end p50 moves by ±50 µs;
 * perf trace adds a few µs per syscall, the same for every row: compare rows of one run, not runs.
 * Used by `bench/gatewayPaired.ts --perf-trace SECONDS`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

interface Sys {
  readonly t: number
  readonly dur: number
  readonly pid: number
  readonly name: string
  readonly fd: number
  readonly ret: number
}

// `     0.057 ( 0.020 ms): MainThread/29527 read(fd: 24, buf: 0x…, count: 65536)   = 107` (a zero fd is not printed).
const LINE = /^\s*([\d.]+) \(\s*([\d.]+) ms\): \S+\/(\d+) (\w+)\(([^)]*)\)\s*=\s*(-?\d+)/

export const parsePerfTrace = (text: string): Array<Sys> => {
  const out: Array<Sys> = []
  for (const line of text.split("\n")) {
    const m = LINE.exec(line)
    if (m === null) continue
    const fd = /(?:^|, )fd: (\d+)/.exec(m[5]!)
    out.push({ t: Number(m[1]) * 1000, dur: Number(m[2]) * 1000, pid: Number(m[3]), name: m[4]!, fd: fd === null ? 0 : Number(fd[1]), ret: Number(m[6]) })
  }
  return out
}

export interface GatewayGaps {
  readonly toUpstream: Array<number>
  readonly toClient: Array<number>
  readonly upstreamWrite: Array<number>
  readonly clientWrite: Array<number>
}

/** A gateway's per-call gaps: its client socket is the fd it both reads and writes with `writev`. */
export const gatewayGaps = (sys: ReadonlyArray<Sys>): GatewayGaps => {
  const read = new Set(sys.filter((s) => s.name === "read" && s.ret > 0).map((s) => s.fd))
  const ws = sys.find((s) => s.name === "writev" && read.has(s.fd))?.fd
  const gaps: GatewayGaps = { toUpstream: [], toClient: [], upstreamWrite: [], clientWrite: [] }
  if (ws === undefined) return gaps
  let from: { readonly t: number; readonly client: boolean } | undefined
  for (const s of sys) {
    if (s.name === "read" && s.ret > 0) from = { t: s.t + s.dur, client: s.fd === ws }
    else if (from !== undefined && (s.name === "write" || s.name === "writev")) {
      if (from.client && s.fd !== ws) {
        gaps.toUpstream.push(s.t - from.t)
        gaps.upstreamWrite.push(s.dur)
      } else if (!from.client && s.fd === ws) {
        gaps.toClient.push(s.t - from.t)
        gaps.clientWrite.push(s.dur)
      }
      from = undefined
    }
  }
  return gaps
}

/** An upstream stdio server's per-call time: the `read` of its stdin (fd 0) to its `write` on stdout (fd 1). */
export const upstreamTimes = (sys: ReadonlyArray<Sys>): Array<number> => {
  const out: Array<number> = []
  let from: number | undefined
  for (const s of sys) {
    if (s.name === "read" && s.fd === 0 && s.ret > 0) from = s.t
    else if (s.name === "write" && s.fd === 1 && from !== undefined) {
      out.push(s.t + s.dur - from)
      from = undefined
    }
  }
  return out
}

/** `perf trace` on `pid` into `file` until stopped (SIGINT: perf writes what it has). */
export const startPerfTrace = (pid: number, file: string): ChildProcess =>
  spawn("perf", ["trace", "-p", String(pid), "-e", "read,write,writev,epoll_pwait", "-o", file], { stdio: "ignore" })

/** A node descendant of `pid` whose command line contains every one of `words` (e.g. the upstream stdio server; not a shell wrapping it). */
export const descendantWith = (pid: number, words: ReadonlyArray<string>): number | undefined => {
  const parent = new Map<number, number>()
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "latin1")
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {
      // gone meanwhile
    }
  }
  const under = (p: number): boolean => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true
    return false
  }
  for (const p of parent.keys()) {
    if (!under(p)) continue
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0")
      if (argv[0] === process.execPath && words.every((w) => argv.includes(w))) return p
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

const q = (xs: ReadonlyArray<number>): string => {
  if (xs.length === 0) return "—"
  const s = [...xs].sort((a, b) => a - b)
  const at = (f: number) => Math.round(s[Math.min(s.length - 1, Math.floor(f * s.length))]!)
  return `${at(0.5)} (${at(0.25)}..${at(0.75)})`
}

/** One markdown row per traced gateway: medians (quartiles) in µs. */
export const gapsTable = (rows: ReadonlyArray<{ readonly name: string; readonly gateway: string; readonly upstream: string | undefined }>): string => {
  const out = [
    "| row | frame read → upstream write | upstream line read → frame write | upstream write (syscall) | frame writev (syscall) | upstream: read → write | calls |",
    "|---|---:|---:|---:|---:|---:|---:|"
  ]
  for (const r of rows) {
    const g = gatewayGaps(parsePerfTrace(r.gateway))
    const u = r.upstream === undefined ? [] : upstreamTimes(parsePerfTrace(r.upstream))
    out.push(`| ${r.name} | ${q(g.toUpstream)} | ${q(g.toClient)} | ${q(g.upstreamWrite)} | ${q(g.clientWrite)} | ${q(u)} | ${g.toClient.length} |`)
  }
  return out.join("\n")
}
