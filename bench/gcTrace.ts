/**
 * V8's `--trace-gc-nvp` log, read the same way by `bench/gcChurn.ts` and `bench/gcGateway.ts`: every GC
 * line, and the steady state's scavenges (after a forced full GC, marked `forced-full-gc` by the
 * target's preload, but that GC's first scavenge; else after the first `skip`) with their medians, per
 * unit of work (a session, a call) done over the whole log.
 */
type GcLine = Record<string, string>

const parse = (lines: ReadonlyArray<string>): Array<GcLine> =>
  lines.filter((l) => l.includes("pause=")).map((l) =>
    Object.fromEntries(l.trim().split(/\s+/).map((x) => x.split("=")).filter((x) => x.length === 2)) as GcLine)

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN

export interface GcTraceSummary {
  /** A full GC was forced (its marker line is in the log). */
  readonly forced: boolean
  readonly scavenges: number
  readonly survivedKB: number
  readonly promotedKB: number
  readonly pauseMs: number
  /** Units of work per steady scavenge (median), and the steady scavenges' pause per unit (µs). */
  readonly unitsPerScavenge: number
  readonly scavengePauseUsPerUnit: number
  readonly fullGcs: number
  /** Full GCs after the forced one (undefined when none was forced). */
  readonly fullGcsAfterForced: number | undefined
  /** Every scavenge, "survived/promoted" KB. */
  readonly series: string
}

export const summarizeGcTrace = (log: string, units: number, skip: number): GcTraceSummary => {
  const lines = log.split("\n")
  const gcs = parse(lines)
  const scavenges = gcs.filter((g) => g.gc === "s")
  const forcedAt = lines.indexOf("forced-full-gc")
  const after = forcedAt === -1 ? undefined : parse(lines.slice(forcedAt + 1)).slice(1)
  const steady = after === undefined ? scavenges.slice(skip) : after.filter((g) => g.gc === "s").slice(1)
  const allocatedPerUnit = scavenges.reduce((a, g) => a + Number(g.allocated), 0) / units
  const steadyUnits = steady.reduce((a, g) => a + Number(g.allocated), 0) / allocatedPerUnit
  return {
    forced: forcedAt !== -1,
    scavenges: steady.length,
    survivedKB: Math.round(median(steady.map((g) => Number(g.new_space_survived))) / 1024),
    promotedKB: Math.round(median(steady.map((g) => Number(g.promoted))) / 1024),
    pauseMs: median(steady.map((g) => Number(g.pause))),
    unitsPerScavenge: Math.round(median(steady.map((g) => Number(g.allocated))) / allocatedPerUnit),
    scavengePauseUsPerUnit: steady.reduce((a, g) => a + Number(g.pause), 0) * 1000 / steadyUnits,
    fullGcs: gcs.length - scavenges.length,
    fullGcsAfterForced: after === undefined ? undefined : after.filter((g) => g.gc !== "s").length,
    series: scavenges.map((g) => `${Math.round(Number(g.new_space_survived) / 1024)}/${Math.round(Number(g.promoted) / 1024)}`).join(" ")
  }
}
