/**
 * Summarize V8 `.cpuprofile` files (from `node --cpu-prof`): top frames by
 * self time, by inclusive time, and self time per file / package.
 *
 *   node bench/cpuprof.ts FILE.cpuprofile [--top 20] [--from REGEXP] [--grep REGEXP]
 *
 * --from skips every sample before the first whose stack has a frame matching
 * REGEXP (e.g. "src/server/" to drop start-up); --grep lists only the frames
 * matching REGEXP with their self and inclusive time.
 *
 * Frames are keyed by function name + file:line (1-based), with the project
 * root and node_modules prefixes shortened.
 */
import { readFileSync } from "node:fs"
import { ROOT, fmt } from "./lib.ts"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

const shortUrl = (url: string): string => {
  let u = url.replace(/^file:\/\//, "")
  const nm = u.lastIndexOf("/node_modules/")
  if (nm >= 0) return u.slice(nm + "/node_modules/".length)
  if (u.startsWith(ROOT + "/")) u = u.slice(ROOT.length + 1)
  // the frozen copy the bench runs the server from (see snapshotCode in lib.ts)
  return u.replace(/^.*\/mcp-actors-code-[0-9a-f]+\//, "")
}
/** "effect", "xstate", "src/server", "node:internal/streams", "(native)" … */
const packageOf = (url: string): string => {
  if (url === "") return "(native / VM)"
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/")
  const s = shortUrl(url)
  if (url.includes("/node_modules/")) return s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!
  return s.split("/").slice(0, 2).join("/")
}
const frameKey = (f: CallFrame): string => {
  const name = f.functionName || "(anonymous)"
  if (f.url === "") return name
  return `${name}  ${shortUrl(f.url)}:${f.lineNumber + 1}`
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idleMs: number
  readonly gcMs: number
  readonly self: ReadonlyArray<readonly [string, number]>
  readonly total: ReadonlyArray<readonly [string, number]>
  readonly byPackage: ReadonlyArray<readonly [string, number]>
  readonly byFile: ReadonlyArray<readonly [string, number]>
}

export interface SummarizeOptions {
  /**
   * Ignore every sample before the first one whose stack has a frame (function
   * name + file:line, as printed) matching this: e.g. /src\/server\// skips the
   * process start-up (module loading, type stripping) before the first request.
   */
  readonly from?: RegExp
}

export const summarizeProfile = (file: string, options: SummarizeOptions = {}): ProfileSummary => {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of p.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  // time per sample: the delta to the NEXT sample (the last sample gets the mean)
  const selfById = new Map<number, number>()
  const mean = (p.endTime - p.startTime) / Math.max(1, p.samples.length)
  const stackMatches = (id: number, re: RegExp): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (re.test(frameKey(byId.get(cur)!.callFrame))) return true
    }
    return false
  }
  let first = 0
  if (options.from) {
    while (first < p.samples.length && !stackMatches(p.samples[first]!, options.from)) first++
    if (first === p.samples.length) first = 0 // never matched: keep everything
  }
  for (let i = first; i < p.samples.length; i++) {
    const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1]! : mean
    selfById.set(p.samples[i]!, (selfById.get(p.samples[i]!) ?? 0) + dt)
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const pkg = new Map<string, number>()
  const files = new Map<string, number>()
  let all = 0, idle = 0, gc = 0
  for (const [id, us] of selfById) {
    const n = byId.get(id)!
    const f = n.callFrame
    all += us
    if (f.functionName === "(idle)") idle += us
    if (f.functionName === "(garbage collector)") gc += us
    const k = frameKey(f)
    self.set(k, (self.get(k) ?? 0) + us)
    if (f.functionName === "(idle)") continue
    pkg.set(packageOf(f.url), (pkg.get(packageOf(f.url)) ?? 0) + us)
    const fk = f.url === "" ? "(native / VM)" : shortUrl(f.url)
    files.set(fk, (files.get(fk) ?? 0) + us)
    // inclusive: every distinct frame key on the stack gets the sample once
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = frameKey(byId.get(cur)!.callFrame)
      if (seen.has(key)) continue
      seen.add(key)
      total.set(key, (total.get(key) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000] as const)
  return {
    totalMs: all / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    self: sorted(self),
    total: sorted(total).filter(([k]) => !k.startsWith("(root)") && !k.startsWith("(program)") && !k.startsWith("(idle)")),
    byPackage: sorted(pkg),
    byFile: sorted(files)
  }
}

/** Markdown: top self-time frames, top inclusive frames, self time per package. Percentages are of busy (non-idle) time. */
export const profileMarkdown = (s: ProfileSummary, top = 20): string => {
  const busy = s.totalMs - s.idleMs
  const pct = (ms: number) => `${((100 * ms) / Math.max(1e-9, busy)).toFixed(1)} %`
  const rows = (xs: ReadonlyArray<readonly [string, number]>, n: number) =>
    xs
      .filter(([k]) => k !== "(idle)")
      .slice(0, n)
      .map(([k, ms]) => `| \`${k}\` | ${fmt(ms)} | ${pct(ms)} |`)
      .join("\n")
  return [
    `Profile: ${fmt(s.totalMs)} ms sampled, ${fmt(busy)} ms busy (${fmt(s.gcMs)} ms GC).`,
    "",
    "Top self time:",
    "",
    "| frame | self ms | % of busy |",
    "|---|---|---|",
    rows(s.self, top),
    "",
    "Self time per package / directory:",
    "",
    "| package | self ms | % of busy |",
    "|---|---|---|",
    rows(s.byPackage, 15),
    "",
    "Top inclusive time (frame and everything it calls):",
    "",
    "| frame | total ms | % of busy |",
    "|---|---|---|",
    rows(s.total, top)
  ].join("\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const ti = args.indexOf("--top")
  const fi = args.indexOf("--from")
  const gi = args.indexOf("--grep")
  const top = ti >= 0 ? Number(args[ti + 1]) : 20
  const from = fi >= 0 ? new RegExp(args[fi + 1]!) : undefined
  const grep = gi >= 0 ? new RegExp(args[gi + 1]!) : undefined
  const valueAt = new Set([ti, fi, gi].filter((i) => i >= 0).map((i) => i + 1))
  const files = args.filter((a, i) => !a.startsWith("--") && !valueAt.has(i))
  if (files.length === 0) {
    process.stderr.write("Usage: node bench/cpuprof.ts FILE.cpuprofile [--top 20] [--from REGEXP]\n")
    process.exit(2)
  }
  for (const f of files) {
    const sum = summarizeProfile(f, from ? { from } : {})
    if (grep) {
      // only the frames matching --grep, with self and inclusive time
      const busy = sum.totalMs - sum.idleMs
      const self = new Map(sum.self)
      process.stdout.write(`## ${f}\n\n| frame | self ms | total ms | total % of busy |\n|---|---|---|---|\n`)
      for (const [k, ms] of sum.total.filter(([k]) => grep.test(k)).slice(0, top)) {
        process.stdout.write(`| \`${k}\` | ${fmt(self.get(k) ?? 0)} | ${fmt(ms)} | ${((100 * ms) / busy).toFixed(1)} % |\n`)
      }
      process.stdout.write("\n")
    } else process.stdout.write(`## ${f}\n\n${profileMarkdown(sum, top)}\n\n`)
  }
}
