/** Event waits for tests of a real McpHost (its servers are real processes). */
import type { McpHost } from "../../src/host/McpHost.ts"

/**
 * True once `check` holds, re-checked on each host event (every state change,
 * listing, catalog change or notification emits one); false if it still does
 * not hold after `timeoutMs`, a bound for the failure case rather than a poll.
 */
export const hostReaches = (host: McpHost, check: () => boolean, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    let done = false
    const offs: Array<() => void> = []
    const finish = (value: boolean) => {
      if (done) return
      done = true
      clearTimeout(bound)
      for (const off of offs) off()
      resolve(value)
    }
    const look = () => {
      if (check()) finish(true)
    }
    const bound = setTimeout(() => finish(check()), timeoutMs)
    for (const type of ["status", "listing", "change", "notification"] as const) offs.push(host.on(type, look))
    look()
  })
