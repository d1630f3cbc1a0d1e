/**
 * The scopes of the sessions under one long-lived parent scope (a listener's, or
 * the supervisor's root): each closes with the parent, as a child made by
 * `Scope.forkUnsafe(parent)` would, but the parent holds one finalizer for the
 * whole group instead of one entry per session.
 *
 * Why: `Scope.forkUnsafe` puts every child in the parent's finalizer `Map`, which
 * lives as long as the listener and sees every session come and go. Once a full
 * GC has moved that `Map`'s storage to old space, the hash tables V8 drops as it
 * copies them hold the sessions' (closed) scopes and their exits, and the young GC
 * takes them as roots (see ClearingMap.ts): ≈ 150–250 KB more survived each
 * scavenge of an HTTP churn at 32 concurrent sessions, from the first full GC on
 * (docs/performance.md, "Why churned sessions survived the young GC"). Here the
 * children sit in a {@link ClearingMap}, whose dropped storage holds numbers.
 *
 * @since 0.4.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import { addFinalizerUnsafe } from "./scopeFinalizer.ts"

/** A child of a {@link ScopeGroup}: its scope, and its key for {@link ScopeGroup.leave}. */
export interface GroupChild {
  readonly scope: Scope.Closeable
  readonly key: number
}

export class ScopeGroup {
  readonly parent: Scope.Scope
  private readonly children = new ClearingMap<number, Scope.Closeable>()
  private nextKey = 0
  /** The group's one finalizer is on the parent (added with the first child, kept while the parent is open). */
  private attached = false

  constructor(parent: Scope.Scope) {
    this.parent = parent
  }

  /** Children not closed yet. */
  get size(): number {
    return this.children.size
  }

  /** Whether the group's finalizer is one of the parent's (it is not a session: leak counts leave it out). */
  get holdsFinalizer(): boolean {
    return this.attached && this.parent.state._tag === "Open"
  }

  /**
   * A new child scope (finalizers run in sequence), closed with the parent. On a closed parent it
   * is born closed, with the parent's exit, as `Scope.forkUnsafe` makes it.
   */
  fork(): GroupChild {
    if (this.parent.state._tag === "Closed") return { scope: Scope.forkUnsafe(this.parent, "sequential"), key: -1 }
    const scope = Scope.makeUnsafe("sequential")
    const key = this.nextKey++
    this.children.set(key, scope)
    if (!this.attached) {
      this.attached = true
      addFinalizerUnsafe(this.parent, this, (exit) => this.closeAll(exit))
    }
    return { scope, key }
  }

  /** The child closed (or is closing): the group lets go of it. */
  leave(child: GroupChild): void {
    this.children.deleteIf(child.key, child.scope)
  }

  /** The parent closes: close every child left, the newest first, as the parent closes its own children. */
  private closeAll(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.attached = false
    const all = [...this.children.values()].reverse()
    return Effect.forEach(all, (scope) => Scope.close(scope, exit), {
      discard: true,
      concurrency: this.parent.strategy === "parallel" ? "unbounded" : 1
    })
  }
}
