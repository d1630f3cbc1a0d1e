/**
 * OS handles and child processes, for the leak checks of tests that run real
 * sockets and processes. A handle's release has no event of its own (libuv
 * closes it in a later loop phase), so {@link settleToBaseline} is the one poll.
 */
import { execFileSync } from "node:child_process"
import { settles } from "./waitFor.ts"

/** Active handles by type (what keeps the event loop alive). */
export const resourceCounts = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

/** The handle types above their `baseline` count, as `type: before → now`. */
export const aboveBaseline = (baseline: Record<string, number>): Array<string> =>
  Object.entries(resourceCounts()).filter(([k, n]) => n > (baseline[k] ?? 0)).map(([k, n]) => `${k}: ${baseline[k] ?? 0} → ${n}`)

/** Wait (bounded: a loaded machine) until no handle type is above its `baseline` count; return what is still above. */
export const settleToBaseline = async (baseline: Record<string, number>, ms = 10_000): Promise<Array<string>> => {
  await settles(() => aboveBaseline(baseline).length === 0, { timeoutMs: ms, stepMs: 10 })
  return aboveBaseline(baseline)
}

/** This process's live children (`pid stat comm`), the `ps` doing the listing left out. */
export const childProcesses = (): Array<string> => {
  let out: string
  try {
    out = execFileSync("ps", ["--ppid", String(process.pid), "-o", "pid=,stat=,comm="]).toString()
  } catch (e) {
    out = String((e as { stdout?: unknown }).stdout ?? "")
  }
  return out.split("\n").map((l) => l.trim()).filter((l) => l.length > 0 && !/\sps$/.test(l))
}
