import { describe, expect, it } from "vitest"
import type { ServerChange } from "../src/protocol/subscriptions.ts"
import { McpServer, type ServerChangeWatcher } from "../src/server/McpServer.ts"

// A server's change listeners are kept by a key of their own, not by themselves (a long-lived
// Set of sessions kept ended ones reachable for the young GC: docs/performance.md); a watcher
// carries its key. These are the listener semantics that must not change with that.
class Watcher implements ServerChangeWatcher {
  readonly seen: Array<string> = []
  serverChanged(change: ServerChange): void {
    this.seen.push(change.type === "resourceUpdated" ? `${change.type}:${change.uri}` : change.type)
  }
}

describe("McpServer change listeners", () => {
  it("watch is idempotent, unwatch stops the changes; functions and watchers together", () => {
    const server = new McpServer({ name: "s", version: "1" })
    const w = new Watcher()
    const heard: Array<string> = []
    server.watch(w)
    server.watch(w)
    const off = server.onChange((c) => void heard.push(c.type))
    expect(server.changeListenerCount).toBe(2)
    server.resourceUpdated("a")
    expect(w.seen).toEqual(["resourceUpdated:a"])
    expect(heard).toEqual(["resourceUpdated"])
    server.unwatch(w)
    server.unwatch(w)
    server.resourceUpdated("b")
    expect(w.seen).toEqual(["resourceUpdated:a"])
    expect(heard).toEqual(["resourceUpdated", "resourceUpdated"])
    off()
    expect(server.changeListenerCount).toBe(0)
    // Watching again after an unwatch works.
    server.watch(w)
    server.resourceUpdated("c")
    expect(w.seen).toEqual(["resourceUpdated:a", "resourceUpdated:c"])
  })

  it("one watcher of two servers hears both, and leaving one keeps the other", () => {
    const a = new McpServer({ name: "a", version: "1" })
    const b = new McpServer({ name: "b", version: "1" })
    const w = new Watcher()
    a.watch(w)
    b.watch(w)
    a.resourceUpdated("from-a")
    b.resourceUpdated("from-b")
    expect(w.seen).toEqual(["resourceUpdated:from-a", "resourceUpdated:from-b"])
    a.unwatch(w)
    a.resourceUpdated("a2")
    b.resourceUpdated("b2")
    expect(w.seen).toEqual(["resourceUpdated:from-a", "resourceUpdated:from-b", "resourceUpdated:b2"])
    b.unwatch(w)
    b.resourceUpdated("b3")
    expect(w.seen).toHaveLength(3)
    expect(a.changeListenerCount + b.changeListenerCount).toBe(0)
    // The other order: leave the server that holds the watcher's slot last.
    a.watch(w)
    b.watch(w)
    b.unwatch(w)
    a.resourceUpdated("a4")
    b.resourceUpdated("b4")
    expect(w.seen.slice(3)).toEqual(["resourceUpdated:a4"])
    a.unwatch(w)
    expect(a.changeListenerCount + b.changeListenerCount).toBe(0)
  })

  it("a listener that leaves during a change is not called after it; one added during it is", () => {
    const server = new McpServer({ name: "s", version: "1" })
    const late = new Watcher()
    const first = new Watcher()
    const second = new Watcher()
    first.serverChanged = (change) => {
      server.unwatch(second)
      server.watch(late)
      Watcher.prototype.serverChanged.call(first, change)
    }
    server.watch(first)
    server.watch(second)
    server.resourceUpdated("x")
    expect(first.seen).toEqual(["resourceUpdated:x"])
    expect(second.seen).toEqual([])
    expect(late.seen).toEqual(["resourceUpdated:x"])
  })
})
