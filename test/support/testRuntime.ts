/**
 * One runtime per test, and cleanups: after each test the cleanups run newest first,
 * then the runtime shuts down without draining.
 */
import { afterEach } from "vitest"
import type { McpRuntime } from "../../src/runtime/McpRuntime.ts"

export const testRuntime = () => {
  let runtime: McpRuntime | undefined
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
    await runtime?.shutdown({ drainMs: 0 })
    runtime = undefined
  })
  /** This test's runtime: shut down after it. */
  const use = (rt: McpRuntime): McpRuntime => (runtime = rt)
  return { cleanups, use }
}
