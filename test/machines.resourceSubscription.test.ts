/**
 * The `resourceSubscription` chart alone (machines/resourceSubscription.ts): explicit event
 * sequences, the upstream calls supplied as promise actors the test answers. Each sequence pins
 * one clause of the chart's header: joining and acknowledging, a subscribe on the live
 * generation held at once, the last unsubscribe undoing the upstream subscription, an unsubscribe
 * crossing a subscribe (both ways), a re-subscribe per new generation, a failure keeping the
 * subscribers, a subscribe answered on a stale generation made again, and `CLOSE`.
 */
import { describe, expect, it } from "vitest"
import { createActor, fromPromise } from "xstate"
import {
  type ResourceSubscriptionEmitted,
  resourceSubscriptionMachine,
  type UpstreamSubscribed,
  type UpstreamUnsubscribe
} from "../machines/resourceSubscription.ts"

/** Every state the sequences below end a step in (the last test checks that all were visited). */
const visited = new Set<string>()

const start = () => {
  const calls: Array<string> = []
  const pending: Array<{ readonly resolve: (v: never) => void; readonly reject: (e: unknown) => void }> = []
  const call = <T,>(entry: string): Promise<T> => {
    calls.push(entry)
    return new Promise<T>((resolve, reject) => pending.push({ resolve: resolve as (v: never) => void, reject }))
  }
  const actor = createActor(resourceSubscriptionMachine.provide({
    actors: {
      subscribeUpstream: fromPromise<UpstreamSubscribed, { readonly server: string; readonly uri: string }>(({ input }) => call(`subscribe ${input.server} ${input.uri}`)),
      unsubscribeUpstream: fromPromise<void, UpstreamUnsubscribe>(({ input }) => call(`unsubscribe ${input.server} ${input.uri} #${input.generation}`))
    }
  }), { input: { server: "up", uri: "mem://a" } })
  const heard: Array<string> = []
  const names = new Map<object, string>()
  const name = (o: object) => names.get(o) ?? "?"
  actor.on("*", (e: ResourceSubscriptionEmitted) => {
    heard.push(e.type === "joined" ? `joined ${e.subscribers.map(name).join(",")}` : `refused ${e.subscribers.map(name).join(",")}: ${String(e.error)}`)
  })
  actor.subscribe((s) => visited.add(s.status === "done" ? "released" : String(s.value)))
  actor.start()
  const who = (label: string) => {
    const o = { label }
    names.set(o, label)
    return o
  }
  /** Answer the oldest upstream call, then let the promise actor report. */
  const answer = async (value?: UpstreamSubscribed | Error) => {
    const p = pending.shift()!
    if (value instanceof Error) p.reject(value)
    else p.resolve(value as never)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  const state = () => (actor.getSnapshot().status === "done" ? "released" : String(actor.getSnapshot().value))
  const ctx = () => {
    const c = actor.getSnapshot().context
    return { subscribers: c.subscribers.map(name), joining: c.joining.map(name), generation: c.generation }
  }
  return { actor, calls, heard, who, answer, state, ctx }
}

/** A chart whose first subscriber `a` is held upstream on generation 1 (`b` not yet subscribed). */
const startHeld = async () => {
  const t = start()
  const a = t.who("a"), b = t.who("b")
  t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: 1 })
  await t.answer({ generation: 1 })
  return { t, a, b }
}

describe("resourceSubscription chart", () => {
  it("the first subscriber subscribes upstream; another joins the same subscribe; both are held on its generation", async () => {
    const t = start()
    const a = t.who("a"), b = t.who("b")
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: 1 })
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 1 })
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 1 }) // again: one joiner
    expect(t.state()).toBe("subscribing")
    expect(t.ctx()).toEqual({ subscribers: [], joining: ["a", "b"], generation: undefined })
    await t.answer({ generation: 1 })
    expect(t.state()).toBe("subscribed")
    expect(t.ctx()).toEqual({ subscribers: ["a", "b"], joining: [], generation: 1 })
    expect(t.heard).toEqual(["joined a,b"])
    expect(t.calls).toEqual(["subscribe up mem://a"])
  })

  it("subscribed on the live generation: a new subscriber is held at once, one already held is acknowledged; the last one's going unsubscribes that generation, then it is released", async () => {
    const { t, a, b } = await startHeld()
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 1 })
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: 1 })
    expect(t.heard).toEqual(["joined a", "joined b", "joined a"])
    expect(t.ctx().subscribers).toEqual(["a", "b"])
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: b })
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: b }) // not subscribed: nothing
    expect(t.state()).toBe("subscribed")
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: a })
    expect(t.state()).toBe("unsubscribing")
    await t.answer()
    expect(t.state()).toBe("released")
    expect(t.calls).toEqual(["subscribe up mem://a", "unsubscribe up mem://a #1"])
  })

  it("a subscribe when the held generation is not the live one subscribes again (on the live one)", async () => {
    const { t, a, b } = await startHeld()
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 2 })
    expect(t.state()).toBe("subscribing")
    expect(t.ctx()).toEqual({ subscribers: ["a"], joining: ["b"], generation: 1 })
    await t.answer({ generation: 2 })
    expect(t.ctx()).toEqual({ subscribers: ["a", "b"], joining: [], generation: 2 })
    expect(t.calls).toEqual(["subscribe up mem://a", "subscribe up mem://a"])
  })

  it("an unsubscribe crossing the subscribe: the subscribe finishes, nobody is held, the upstream is unsubscribed on the generation it answered on", async () => {
    const t = start()
    const a = t.who("a")
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: undefined })
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: a })
    expect(t.state()).toBe("subscribing")
    expect(t.ctx()).toEqual({ subscribers: [], joining: [], generation: undefined })
    await t.answer({ generation: 3 })
    expect(t.state()).toBe("unsubscribing")
    expect(t.heard).toEqual([]) // a never joined
    await t.answer()
    expect(t.state()).toBe("released")
    expect(t.calls).toEqual(["subscribe up mem://a", "unsubscribe up mem://a #3"])
  })

  it("a subscribe crossing the unsubscribe: it waits for the unsubscribe to be answered, then subscribes again (never out of order upstream)", async () => {
    const { t, a, b } = await startHeld()
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: a })
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 1 })
    expect(t.state()).toBe("unsubscribing")
    expect(t.calls).toEqual(["subscribe up mem://a", "unsubscribe up mem://a #1"])
    await t.answer()
    expect(t.state()).toBe("subscribing")
    expect(t.calls).toEqual(["subscribe up mem://a", "unsubscribe up mem://a #1", "subscribe up mem://a"])
    await t.answer({ generation: 1 })
    expect(t.ctx()).toEqual({ subscribers: ["b"], joining: [], generation: 1 })
    expect(t.heard).toEqual(["joined a", "joined b"])
  })

  it("a new generation re-subscribes; a failure refuses only the joiners and keeps the subscribers (lapsed) for the next generation", async () => {
    const { t, a, b } = await startHeld()
    t.actor.send({ type: "GENERATION_READY", generation: 1 }) // the one it is on: nothing
    expect(t.state()).toBe("subscribed")
    t.actor.send({ type: "GENERATION_READY", generation: 2 })
    expect(t.state()).toBe("subscribing")
    t.actor.send({ type: "SUBSCRIBE", subscriber: b, live: 2 })
    await t.answer(new Error("restarting"))
    expect(t.state()).toBe("lapsed")
    expect(t.ctx()).toEqual({ subscribers: ["a"], joining: [], generation: 1 })
    expect(t.heard).toEqual(["joined a", "refused b: Error: restarting"])
    t.actor.send({ type: "GENERATION_READY", generation: 3 })
    expect(t.state()).toBe("subscribing")
    await t.answer({ generation: 3 })
    expect(t.state()).toBe("subscribed")
    expect(t.ctx()).toEqual({ subscribers: ["a"], joining: [], generation: 3 })
    // Lapsed, then the last subscriber goes: unsubscribing (the host's call is a no-op unless its generation is live).
    t.actor.send({ type: "GENERATION_READY", generation: 4 })
    await t.answer(new Error("gone again"))
    expect(t.state()).toBe("lapsed")
    t.actor.send({ type: "UNSUBSCRIBE", subscriber: a })
    expect(t.state()).toBe("unsubscribing")
    await t.answer()
    expect(t.state()).toBe("released")
    expect(t.calls.at(-1)).toBe("unsubscribe up mem://a #3")
  })

  it("a subscribe answered on a generation older than one that came up meanwhile is made again on the newer one", async () => {
    const t = start()
    const a = t.who("a")
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: 1 })
    t.actor.send({ type: "GENERATION_READY", generation: 2 })
    await t.answer({ generation: 1 })
    expect(t.state()).toBe("subscribing")
    expect(t.heard).toEqual(["joined a"])
    await t.answer({ generation: 2 })
    expect(t.state()).toBe("subscribed")
    expect(t.ctx().generation).toBe(2)
    expect(t.calls).toEqual(["subscribe up mem://a", "subscribe up mem://a"])
  })

  it("the first subscribe refused: its joiners are told why and it is released (nothing to undo)", async () => {
    const t = start()
    const a = t.who("a")
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: undefined })
    await t.answer(new Error("unsupported"))
    expect(t.state()).toBe("released")
    expect(t.heard).toEqual(["refused a: Error: unsupported"])
    expect(t.calls).toEqual(["subscribe up mem://a"])
  })

  it("CLOSE: released at once, joiners refused (no error: the host closed), nothing sent upstream", async () => {
    const t = start()
    const a = t.who("a")
    t.actor.send({ type: "SUBSCRIBE", subscriber: a, live: 1 })
    t.actor.send({ type: "CLOSE" })
    expect(t.state()).toBe("released")
    expect(t.heard).toEqual(["refused a: undefined"])
    expect(t.calls).toEqual(["subscribe up mem://a"])
  })

  it("the sequences above visit every state of the chart", () => {
    expect([...visited].sort()).toEqual(Object.keys(resourceSubscriptionMachine.root.states).sort())
  })
})
