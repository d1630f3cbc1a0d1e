/** An event wait for a runtime that holds nothing any more (the leak checks of the tree tests). */
import type { McpRuntime } from "../../src/runtime/McpRuntime.ts"
import { whenChanged } from "./condition.ts"
import { waitForTurns } from "./waitFor.ts"

/**
 * Resolves once `runtime`'s registry is empty (awaited on its changes) and its
 * supervisor holds no session and no watcher (in-process, as the last scopes
 * finish closing: event-loop turns, no real time).
 */
export const runtimeEmptied = async (runtime: McpRuntime): Promise<void> => {
  const stats = () => runtime.managed.runSync(runtime.supervisor.stats)
  await whenChanged((l) => runtime.registry.subscribe(l), () => runtime.registry.size === 0, "the runtime's registry to empty")
  await waitForTurns(() => stats().sessions === 0 && stats().watchers === 0, "the supervisor to empty (in-process)")
}
