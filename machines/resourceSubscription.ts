/**
 * One upstream resource subscription of the multi-server host: one (server, URI), shared by every
 * subscriber of that URI there, from the first subscriber to the upstream's unsubscribe.
 *
 * ```
 * subscribing ─done─▶ subscribed (on generation g) ─last UNSUBSCRIBE─▶ unsubscribing ─done─▶ released
 *   │ ▲ ▲  │error          │ GENERATION_READY (≠ g)                     │ SUBSCRIBE meanwhile
 *   │ │ │  ▼               ▼                                            ▼
 *   │ │ │  lapsed ──────▶ subscribing (re-subscribe on the new one)     subscribing
 *   │ │ └─ SUBSCRIBE (g not live) / GENERATION_READY
 *   └─ error, nobody left ─▶ released                       any ─CLOSE─▶ released
 * ```
 *
 * - **Subscribers** are opaque keys (the host's callers: an object each). One subscription per
 *   subscriber: subscribing again only acknowledges it (`joined`). A subscriber whose subscribe waits
 *   for the upstream is *joining*; it joins (`joined`) when the upstream answers, or is refused with
 *   the upstream's error (`refused`); an unsubscribe meanwhile takes it out (it never joins).
 * - **Generations**: the upstream subscription is made on one connection generation of the server.
 *   A subscribe when that generation is the live one (`live`, on the event) joins at once; otherwise
 *   it subscribes upstream again. `GENERATION_READY` (a new generation of the server is ready)
 *   re-subscribes what is still wanted; one arriving while a subscribe is under way is remembered
 *   (`latest`), and a subscribe answered on an older generation is made again on the newer one.
 * - **Failure keeps the subscribers**: a re-subscribe that fails (the server restarted again, or no
 *   longer declares `resources.subscribe`) refuses only the joiners; the others stay, `lapsed`, and
 *   the next generation (or the next subscriber) tries again.
 * - **An unsubscribe crossing a subscribe**: the last subscriber leaving while the upstream
 *   subscribe is under way lets it finish, then unsubscribes (a subscribe answered must be undone);
 *   a subscriber arriving while the upstream unsubscribe is under way waits for it, then subscribes
 *   again, so the upstream never sees them out of order.
 * - `CLOSE` (the host closes): released at once, joiners refused, nothing sent upstream (the
 *   connections close with the host).
 *
 * Pure: the upstream calls are the invoked actors `subscribeUpstream` (→ the generation it was
 * made on) and `unsubscribeUpstream` (a no-op when that generation is no longer live), supplied
 * by the host (src/host/ResourceSubscriptions.ts) with `.provide`; what the callers hear is
 * emitted (`joined`, `refused`).
 */
import { assign, emit, enqueueActions, fromPromise, setup } from "xstate"

/** The subscription's server and URI. */
export interface ResourceSubscriptionInput {
  readonly server: string
  readonly uri: string
}

/** Who subscribes: an opaque key (an object per caller in the host). */
export type ResourceSubscriber = object

/** Subscribers, joiners, and the generations the chart knows of. */
export interface ResourceSubscriptionContext {
  readonly server: string
  readonly uri: string
  /** Subscribers the upstream subscription is held for. */
  readonly subscribers: ReadonlyArray<ResourceSubscriber>
  /** Subscribers waiting for the upstream subscribe under way (or for the unsubscribe under way to end). */
  readonly joining: ReadonlyArray<ResourceSubscriber>
  /** The generation the upstream subscription was made on (undefined: not made yet). */
  readonly generation: number | undefined
  /** The newest generation known to be ready (from `GENERATION_READY` and subscribes' `live`). */
  readonly latest: number | undefined
}

/** What the host tells the chart. */
export type ResourceSubscriptionEvent =
  /** A subscriber subscribes; `live` is the server's ready generation now (undefined: none ready). */
  | { readonly type: "SUBSCRIBE"; readonly subscriber: ResourceSubscriber; readonly live: number | undefined }
  | { readonly type: "UNSUBSCRIBE"; readonly subscriber: ResourceSubscriber }
  /** A new generation of the server is ready. */
  | { readonly type: "GENERATION_READY"; readonly generation: number }
  /** The host closes. */
  | { readonly type: "CLOSE" }

/** What the callers hear: subscribers now held, or refused (with the upstream's error; undefined: the host closed). */
export type ResourceSubscriptionEmitted =
  | { readonly type: "joined"; readonly subscribers: ReadonlyArray<ResourceSubscriber> }
  | { readonly type: "refused"; readonly subscribers: ReadonlyArray<ResourceSubscriber>; readonly error: unknown }

/** What `subscribeUpstream` answers: the generation the subscription was made on. */
export interface UpstreamSubscribed {
  readonly generation: number
}

/** What `unsubscribeUpstream` is given: where, and the generation the subscription was made on. */
export interface UpstreamUnsubscribe extends ResourceSubscriptionInput {
  readonly generation: number | undefined
}

const without = (list: ReadonlyArray<ResourceSubscriber>, who: ResourceSubscriber): ReadonlyArray<ResourceSubscriber> =>
  list.includes(who) ? list.filter((s) => s !== who) : list

const newest = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b)

/** The lifecycle of one (server, URI) upstream subscription (this file's header); pure, the host supplies the upstream calls. */
export const resourceSubscriptionMachine = setup({
  types: {
    context: {} as ResourceSubscriptionContext,
    events: {} as ResourceSubscriptionEvent,
    input: {} as ResourceSubscriptionInput,
    emitted: {} as ResourceSubscriptionEmitted
  },
  actors: {
    /** Effect: `resources/subscribe` (or a modern upstream's `subscriptions/listen`) on the live generation. */
    subscribeUpstream: fromPromise<UpstreamSubscribed, ResourceSubscriptionInput>(() => Promise.reject(new Error("subscribeUpstream is supplied by the host"))),
    /** Effect: `resources/unsubscribe` (or a listen without the URI) if `generation` is still live; its failure is ignored. */
    unsubscribeUpstream: fromPromise<void, UpstreamUnsubscribe>(() => Promise.resolve())
  },
  actions: {
    addJoiner: assign({
      joining: ({ context, event }) => event.type === "SUBSCRIBE" && !context.joining.includes(event.subscriber) ? [...context.joining, event.subscriber] : context.joining,
      latest: ({ context, event }) => event.type === "SUBSCRIBE" ? newest(context.latest, event.live) : context.latest
    }),
    /** A subscriber of the live generation's subscription: held at once. */
    addSubscriber: assign({
      subscribers: ({ context, event }) => event.type === "SUBSCRIBE" ? [...context.subscribers, event.subscriber] : context.subscribers
    }),
    /** Tell the subscribing caller it is held (a new subscriber of the live subscription, or one already held). */
    acknowledge: emit(({ event }) => ({ type: "joined" as const, subscribers: event.type === "SUBSCRIBE" ? [event.subscriber] : [] })),
    removeSubscriber: assign({
      subscribers: ({ context, event }) => event.type === "UNSUBSCRIBE" ? without(context.subscribers, event.subscriber) : context.subscribers,
      joining: ({ context, event }) => event.type === "UNSUBSCRIBE" ? without(context.joining, event.subscriber) : context.joining
    }),
    recordLatest: assign({ latest: ({ context, event }) => event.type === "GENERATION_READY" ? newest(context.latest, event.generation) : context.latest }),
    recordGeneration: assign({ generation: (_, params: UpstreamSubscribed) => params.generation }),
    /** The joiners are held now: tell them. */
    admitJoiners: enqueueActions(({ context, enqueue }) => {
      if (context.joining.length === 0) return
      enqueue.assign({ subscribers: [...context.subscribers, ...context.joining], joining: [] })
      enqueue.emit({ type: "joined", subscribers: context.joining })
    }),
    /** The upstream refused (or the host closes): the joiners are told why and leave; the subscribers stay. */
    refuseJoiners: enqueueActions(({ context, enqueue }, params: { readonly error: unknown }) => {
      if (context.joining.length === 0) return
      enqueue.assign({ joining: [] })
      enqueue.emit({ type: "refused", subscribers: context.joining, error: params.error })
    })
  },
  guards: {
    isSubscriber: ({ context, event }) => event.type === "SUBSCRIBE" && context.subscribers.includes(event.subscriber),
    /** The subscription is made on the generation that is live now. */
    isHeldOnLive: ({ context, event }) => event.type === "SUBSCRIBE" && event.live !== undefined && event.live === context.generation,
    isLastSubscriber: ({ context, event }) =>
      event.type === "UNSUBSCRIBE" && context.joining.length === 0 && context.subscribers.length === 1 && context.subscribers[0] === event.subscriber,
    isNewGeneration: ({ context, event }) => event.type === "GENERATION_READY" && event.generation !== context.generation,
    hasSubscribers: ({ context }) => context.subscribers.length > 0,
    hasJoiners: ({ context }) => context.joining.length > 0,
    /** Nobody wants it any more (the last one left while it was being made). */
    isUnwanted: ({ context }) => context.subscribers.length === 0 && context.joining.length === 0,
    /** Answered on a generation older than one known ready since: it must be made on that one. */
    isStale: (_, params: UpstreamSubscribed & { readonly latest: number | undefined }) => params.latest !== undefined && params.latest > params.generation
  }
}).createMachine({
  id: "resourceSubscription",
  context: ({ input }) => ({ server: input.server, uri: input.uri, subscribers: [], joining: [], generation: undefined, latest: undefined }),
  initial: "subscribing",
  on: {
    CLOSE: { target: ".released", actions: { type: "refuseJoiners", params: { error: undefined } } }
  },
  states: {
    /** The upstream subscribe is under way (the first one, a re-subscribe on a new generation, or after a refusal). */
    subscribing: {
      invoke: {
        src: "subscribeUpstream",
        input: ({ context }) => ({ server: context.server, uri: context.uri }),
        onDone: [
          {
            guard: "isUnwanted",
            target: "unsubscribing",
            actions: { type: "recordGeneration", params: ({ event }) => event.output }
          },
          {
            guard: { type: "isStale", params: ({ context, event }) => ({ ...event.output, latest: context.latest }) },
            target: "subscribing",
            reenter: true,
            actions: [{ type: "recordGeneration", params: ({ event }) => event.output }, "admitJoiners"]
          },
          {
            target: "subscribed",
            actions: [{ type: "recordGeneration", params: ({ event }) => event.output }, "admitJoiners"]
          }
        ],
        onError: [
          { guard: "hasSubscribers", target: "lapsed", actions: { type: "refuseJoiners", params: ({ event }) => ({ error: event.error }) } },
          { target: "released", actions: { type: "refuseJoiners", params: ({ event }) => ({ error: event.error }) } }
        ]
      },
      on: {
        SUBSCRIBE: [{ guard: "isSubscriber", actions: "acknowledge" }, { actions: "addJoiner" }],
        UNSUBSCRIBE: { actions: "removeSubscriber" },
        GENERATION_READY: { actions: "recordLatest" }
      }
    },
    /** Held upstream on `generation`; its subscribers hear its updates. */
    subscribed: {
      on: {
        SUBSCRIBE: [
          { guard: "isSubscriber", actions: "acknowledge" },
          { guard: "isHeldOnLive", actions: ["addSubscriber", "acknowledge"] },
          { target: "subscribing", actions: "addJoiner" }
        ],
        UNSUBSCRIBE: [{ guard: "isLastSubscriber", target: "unsubscribing", actions: "removeSubscriber" }, { actions: "removeSubscriber" }],
        GENERATION_READY: { guard: "isNewGeneration", target: "subscribing", actions: "recordLatest" }
      }
    },
    /** Wanted, but the last (re-)subscribe failed: the subscribers stay, the next generation or subscriber tries again. */
    lapsed: {
      on: {
        SUBSCRIBE: [{ guard: "isSubscriber", actions: "acknowledge" }, { target: "subscribing", actions: "addJoiner" }],
        UNSUBSCRIBE: [{ guard: "isLastSubscriber", target: "unsubscribing", actions: "removeSubscriber" }, { actions: "removeSubscriber" }],
        GENERATION_READY: { guard: "isNewGeneration", target: "subscribing", actions: "recordLatest" }
      }
    },
    /** The last subscriber left: the upstream is unsubscribed (if its generation is still live). A subscriber meanwhile waits for it. */
    unsubscribing: {
      invoke: {
        src: "unsubscribeUpstream",
        input: ({ context }) => ({ server: context.server, uri: context.uri, generation: context.generation }),
        onDone: [{ guard: "hasJoiners", target: "subscribing" }, { target: "released" }],
        onError: [{ guard: "hasJoiners", target: "subscribing" }, { target: "released" }]
      },
      on: {
        SUBSCRIBE: { actions: "addJoiner" },
        UNSUBSCRIBE: { actions: "removeSubscriber" },
        GENERATION_READY: { actions: "recordLatest" }
      }
    },
    released: { type: "final" }
  }
})

/** The type of `resourceSubscriptionMachine`. */
export type ResourceSubscriptionMachine = typeof resourceSubscriptionMachine
