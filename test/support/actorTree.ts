/**
 * Reading an actor tree in tests: which chart an actor runs and who its parent is
 * (xstate keeps both on the actor, not in its public type).
 */
import type { AnyActorRef } from "xstate"

/** The id of the chart an actor runs (`runtime`, `listener`, `connection`, `legacyServerSession`, …). */
export const chartOf = (ref: AnyActorRef): string => (ref as unknown as { logic: { id?: string } }).logic.id ?? ""

/** The actor's parent in the tree (undefined for a root). */
export const parentOf = (ref: AnyActorRef): AnyActorRef | undefined => (ref as unknown as { _parent?: AnyActorRef })._parent
