/** Process helpers for the host's real-process tests (Linux /proc). */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { processGroupAlive } from "../../src/transports/stdioClient.ts"
import { settles } from "./waitFor.ts"

/** Live (non-zombie) pids whose process group is `pgid`. */
export const groupMembers = (pgid: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3)
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") out.push(Number(name))
    } catch {
      // gone
    }
  }
  return out
}

/** The server process under a lifeline wrapper: the wrapper's child that is not the watcher subshell. */
export const serverPidUnder = (wrapperPid: number): number | undefined => {
  for (const pid of groupMembers(wrapperPid)) {
    if (pid === wrapperPid) continue
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1")
    if (!cmd.startsWith("/bin/sh")) return pid
  }
  return undefined
}

/** Poll (real processes only) until `check` holds or `timeoutMs` passes. */
export const eventually = (check: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> => settles(check, { timeoutMs, stepMs })

export { processGroupAlive }

/** Live processes (not zombies) whose pid or process group is `pid`, from `ps` (`pid pgid stat` each). */
export const processesOf = (pid: number): Array<string> =>
  execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([p, g, stat]) => (Number(p) === pid || Number(g) === pid) && stat !== undefined && !stat.startsWith("Z"))
    .map((fields) => fields.join(" "))
