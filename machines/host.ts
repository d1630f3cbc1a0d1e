/**
 * The multi-server host: a parent actor whose children are the
 * `serverConnection` actors, one per configured server (a real xstate actor
 * tree: `spawnChild` with the server's name as the child id).
 *
 * Each child reports every state it enters (`SERVER_STATUS`, its
 * `reportStatus` action provided here as `sendParent`); the host's own state
 * is derived from those reports only:
 * - `starting`: some server has not settled yet, none has failed;
 * - `ready`: every server is `ready` (or `idle`: lazy, not needed yet);
 * - `degraded`: some server is `degraded`, `restarting`, `parked` or `stopped`;
 * - `stopping` → `stopped`: `STOP` was sent to every child; final once all report `stopped`.
 *
 * The runtime talks to a server through the host (`TO_SERVER`), so that every
 * event of the tree passes through the charts.
 */
import { assign, enqueueActions, sendParent, setup } from "xstate"
import {
  type ServerConnectionEvent,
  type ServerConnectionInput,
  serverConnectionMachine,
  type ServerConnectionState
} from "./serverConnection.ts"

export interface ServerStatus {
  readonly state: ServerConnectionState
  readonly generation: number
  readonly restarts: number
  readonly lastError: string | undefined
  readonly protocolVersion: string | undefined
  readonly readySince: number | undefined
  readonly parked: { readonly reason: string; readonly nextProbeAt: number } | undefined
  readonly delayMs: number
}

export interface HostInput {
  readonly servers: ReadonlyArray<ServerConnectionInput>
}

export interface HostContext {
  readonly servers: ReadonlyArray<ServerConnectionInput>
  /** The last status each child reported, by server name (config names, looked up with `Object.hasOwn`). */
  readonly statuses: Readonly<Record<string, ServerStatus>>
}

export type HostEvent =
  | ({ readonly type: "SERVER_STATUS"; readonly name: string } & ServerStatus)
  | { readonly type: "TO_SERVER"; readonly name: string; readonly event: ServerConnectionEvent }
  | { readonly type: "STOP"; readonly now: number; readonly reason?: string }

const stateOf = (context: HostContext, name: string): ServerConnectionState | undefined =>
  Object.hasOwn(context.statuses, name) ? context.statuses[name]!.state : undefined

const HEALTHY: ReadonlySet<ServerConnectionState | undefined> = new Set(["ready", "idle"])
const FAILING: ReadonlySet<ServerConnectionState | undefined> = new Set(["degraded", "restarting", "parked", "stopped"])

/** A child that tells its parent every state it enters. */
export const reportingServerConnection = serverConnectionMachine.provide({
  actions: {
    reportStatus: sendParent(({ context }, params: { readonly state: ServerConnectionState }) => ({
      type: "SERVER_STATUS" as const,
      name: context.name,
      state: params.state,
      generation: context.generation,
      restarts: context.restarts,
      lastError: context.lastError,
      protocolVersion: context.protocolVersion,
      readySince: context.readySince,
      parked: context.parked,
      delayMs: context.delayMs
    }))
  }
})

export const hostMachine = setup({
  types: {
    context: {} as HostContext,
    events: {} as HostEvent,
    input: {} as HostInput
  },
  actors: { serverConnection: reportingServerConnection },
  actions: {
    spawnServers: enqueueActions(({ context, enqueue }) => {
      for (const server of context.servers) {
        enqueue.spawnChild("serverConnection", { id: server.name, systemId: `server:${server.name}`, input: server })
      }
    }),
    recordStatus: assign({
      statuses: ({ context, event }) => {
        if (event.type !== "SERVER_STATUS") return context.statuses
        const { type: _type, name, ...status } = event
        return { ...context.statuses, [name]: status }
      }
    }),
    forwardToServer: enqueueActions(({ enqueue, event }) => {
      if (event.type === "TO_SERVER") enqueue.sendTo(event.name, event.event)
    }),
    stopServers: enqueueActions(({ context, enqueue, event }) => {
      const now = event.type === "STOP" ? event.now : 0
      const reason = event.type === "STOP" ? event.reason : undefined
      for (const server of context.servers) {
        if (stateOf(context, server.name) !== "stopped") {
          enqueue.sendTo(server.name, { type: "STOP", now, ...(reason !== undefined ? { reason } : {}) })
        }
      }
    })
  },
  guards: {
    isKnownServer: ({ context, event }) =>
      event.type === "TO_SERVER" && context.servers.some((s) => s.name === event.name),
    allHealthy: ({ context }) => context.servers.every((s) => HEALTHY.has(stateOf(context, s.name))),
    anyFailing: ({ context }) => context.servers.some((s) => FAILING.has(stateOf(context, s.name))),
    allStopped: ({ context }) => context.servers.every((s) => stateOf(context, s.name) === "stopped")
  }
}).createMachine({
  id: "host",
  context: ({ input }) => ({ servers: input.servers, statuses: {} }),
  entry: "spawnServers",
  initial: "starting",
  on: {
    SERVER_STATUS: { actions: "recordStatus" },
    TO_SERVER: { guard: "isKnownServer", actions: "forwardToServer" },
    STOP: { target: ".stopping" }
  },
  states: {
    starting: {
      always: [{ guard: "allHealthy", target: "ready" }, { guard: "anyFailing", target: "degraded" }]
    },
    ready: {
      always: { guard: "anyFailing", target: "degraded" }
    },
    degraded: {
      always: { guard: "allHealthy", target: "ready" }
    },
    stopping: {
      entry: "stopServers",
      on: { STOP: {} },
      always: { guard: "allStopped", target: "stopped" }
    },
    stopped: { type: "final" }
  }
})

export type HostMachine = typeof hostMachine
