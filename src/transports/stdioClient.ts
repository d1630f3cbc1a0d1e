/**
 * Client side of the stdio transport (spec-digest §4): spawn the server as a
 * child process **in its own process group** and talk newline-delimited
 * JSON-RPC over its stdin/stdout. On Linux the group is set by a
 * `setpgid` + `exec` shim, so the child keeps our session (and scheduler
 * autogroup); elsewhere, or without perl, it is spawned detached (a new
 * session). See `processGroup.ts`.
 *
 * Shutdown (`close()`, spec-digest §4 "Shutdown"): flush and close the
 * child's stdin → wait up to `closeGraceMs` for it to exit → SIGTERM the whole
 * group → wait `termGraceMs` → SIGKILL the group. Whenever the leader has
 * exited (gracefully or not) and members of its group remain (grandchildren),
 * they get SIGTERM, then SIGKILL after `termGraceMs`. `close()` resolves once
 * the child has exited, its group is gone (or SIGKILLed) and every stdio
 * stream is closed; `onClose` is then called with `expected: true` unless the
 * transport had already ended.
 *
 * An exit that `close()` did not ask for (a crash, a kill) calls
 * `onClose({ expected: false, reason, exitCode, signal })` at once; frames that
 * arrive after that are dropped. The group's leftovers are then reaped in the
 * background; `close()` still has to be called to release the streams.
 *
 * A spawn failure (ENOENT, EACCES, …) rejects `spawned` with a `SpawnError`
 * and ends the transport with `expected: false`. `StdioClientTransport.make`
 * is the scoped Effect wrapper: it waits for the spawn, fails with
 * `SpawnError`, and its finalizer runs `close()`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import type { Readable } from "node:stream"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type Clock, sleepOn, systemClock } from "../protocol/clock.ts"
import { encode, type JsonRpcMessage } from "../protocol/jsonrpc.ts"
import { LineFramer } from "./LineFramer.ts"
import { OutputBatcher } from "./OutputBatcher.ts"
import { groupShim, parseShimStatus, type ShimStatus, shimSpawn } from "./processGroup.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type FrameEdges, type Transport, type TransportClosed, type TransportHandlers } from "./Transport.ts"

/** The server's command could not be started (ENOENT, EACCES, …). */
export class SpawnError extends Schema.TaggedError<SpawnError>()("SpawnError", {
  command: Schema.String,
  message: Schema.String
}) {}

export interface StdioClientOptions {
  readonly command: string
  readonly args?: ReadonlyArray<string>
  /** The child's environment; defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /**
   * The child's stderr: shared with ours (`"inherit"`, the default), exposed
   * as `transport.stderr` (`"pipe"`: read it, or the child may block),
   * discarded, or split into lines for a callback.
   */
  readonly stderr?: "inherit" | "pipe" | "ignore" | ((line: string) => void)
  readonly maxMessageBytes?: number
  /** How long to wait for the child to exit after closing its stdin. Default 2000 ms. */
  readonly closeGraceMs?: number
  /** How long to wait after SIGTERM before SIGKILL. Default 2000 ms. */
  readonly termGraceMs?: number
  /**
   * Give the child a fourth pipe (fd 3) that we never write to: its end of
   * file tells a watchdog in the child's group that we died, even by
   * SIGKILL (the kernel closes our end). See `src/host/lifeline.ts`.
   */
  readonly lifeline?: boolean
  /** The clock of the close/kill graces and the group poll. Default: the system clock. */
  readonly clock?: Clock
  /**
   * Start the child in a session of its own (`setsid`, Node's `detached`)
   * instead of only a process group of its own in ours. Default false; it is
   * what happens anyway off Linux or without perl. On Linux a new session is a
   * new scheduler autogroup, slower under load (docs/performance.md).
   */
  readonly newSession?: boolean
}

export interface ChildExit {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
}

export interface StdioClientTransport extends Transport {
  readonly kind: "stdio"
  /** The child's pid (= its process group id); undefined when the spawn failed. */
  readonly pid: number | undefined
  /** Resolves once the child is running; rejects with `SpawnError`. */
  readonly spawned: Promise<void>
  /** Resolves when the child has exited (also after a spawn failure, with nulls). */
  readonly exited: Promise<ChildExit>
  /** The child's stderr stream when `stderr: "pipe"`, else null. */
  readonly stderr: Readable | null
  /** True when the child got a session of its own (detached), false when only a process group in ours. */
  readonly newSession: boolean
}

const GROUP_POLL_MS = 10
/** Upper bound on waiting for a SIGKILLed group to disappear (a process in uninterruptible sleep). */
const KILL_WAIT_MS = 1000
/** After the group is gone, how long to wait for the pipes' EOF before destroying them. */
const STREAM_CLOSE_WAIT_MS = 100

const noop = (): void => {}

const nextLoopIteration = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Resolves true when `promise` settles within `ms` on `clock`, false otherwise; never leaves a timer behind. */
const within = (clock: Clock, promise: Promise<unknown>, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms)
    promise.then(() => {
      clock.clearTimeout(timer)
      resolve(true)
    })
  })

/**
 * Does process group `pgid` still have a live member? Zombies do not count:
 * `kill(-pgid, 0)` succeeds for them, and a container's PID 1 may never reap
 * orphans, so on Linux the group is confirmed through /proc.
 */
export const processGroupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
  if (process.platform !== "linux") return true
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return true
  }
  for (const name of entries) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, "latin1")
    } catch {
      continue // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3)
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true
  }
  return false
}

/** Signal `pid`'s process group (the process itself on Windows); false when there is no such group. */
const signalGroup = (pid: number, signal: NodeJS.Signals): boolean => {
  try {
    if (process.platform === "win32") process.kill(pid, signal)
    else process.kill(-pid, signal)
    return true
  } catch {
    return false // ESRCH: already gone, or the shim has not set the group yet
  }
}

/**
 * Node's own wording for a failed spawn, so a shim makes no difference to the caller. Node
 * reports a missing working directory as the command's ENOENT (`spawn node ENOENT` for a
 * `node` that exists), so that case names the directory.
 */
const spawnMessage = (command: string, e: Error, cwd: string | undefined): string => {
  const code = (e as NodeJS.ErrnoException).code
  if (typeof code !== "string") return e.message
  return code === "ENOENT" && cwd !== undefined && !isDirectory(cwd)
    ? `spawn ${command} ENOENT: working directory ${cwd} does not exist`
    : `spawn ${command} ${code}`
}

const isDirectory = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true

/**
 * Spawn `command` in its own process group and frame its stdin/stdout; `close()` escalates
 * stdin close → SIGTERM → SIGKILL to the whole group, so no grandchild outlives it.
 * Most callers want `connectStdio`, which also runs the handshake.
 */
export const makeStdioClientTransport = (options: StdioClientOptions): StdioClientTransport => {
  const command = options.command
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const closeGraceMs = options.closeGraceMs ?? 2000
  const termGraceMs = options.termGraceMs ?? 2000
  const clock = options.clock ?? systemClock
  const sleep = (ms: number): Promise<boolean> => sleepOn(clock, ms)
  const stderrOption = options.stderr ?? "inherit"

  let handlers: TransportHandlers | undefined = undefined
  let ended: TransportClosed | undefined = undefined
  let delivered = false
  let closing = false
  let closePromise: Promise<void> | undefined = undefined
  let exitInfo: ChildExit | undefined = undefined
  /** The command never ran (spawn or the shim's exec failed): `pid` reads undefined. */
  let spawnFailure = false
  let reaped: Promise<void> = Promise.resolve()

  let resolveSpawned!: () => void
  let rejectSpawned!: (e: SpawnError) => void
  const spawned = new Promise<void>((resolve, reject) => {
    resolveSpawned = resolve
    rejectSpawned = reject
  })
  spawned.catch(noop) // observed through `spawned` or `onClose`; never unhandled
  let resolveExited!: (exit: ChildExit) => void
  const exited = new Promise<ChildExit>((resolve) => {
    resolveExited = resolve
  })
  // Settles when stdout has ended (or was destroyed): 'exit' can come before the last of it is read.
  let resolveStdoutDone!: () => void
  const stdoutDone = new Promise<void>((resolve) => {
    resolveStdoutDone = resolve
  })
  let resolveStreamsClosed!: () => void
  const streamsClosed = new Promise<void>((resolve) => {
    resolveStreamsClosed = resolve
  })

  const end = (closed: TransportClosed): void => {
    if (ended !== undefined) return
    ended = closed
    if (handlers !== undefined) {
      delivered = true
      handlers.onClose(closed)
    }
  }

  const stdio: Array<"pipe" | "inherit" | "ignore"> = ["pipe", "pipe", typeof stderrOption === "function" ? "pipe" : stderrOption]
  if (options.lifeline === true) stdio.push("pipe")
  // Own process group, so the whole group can be signalled: through the shim
  // (same session) when there is one, else detached (a new session).
  const perl = options.newSession === true ? null : groupShim()
  const statusFd = stdio.length
  if (perl !== null) stdio.push("pipe")
  let child: ChildProcess | undefined
  try {
    const args = options.args ?? []
    const shim = perl === null ? undefined : shimSpawn(perl, statusFd, command, args, options.env ?? process.env)
    child = spawn(shim?.file ?? command, shim?.args ?? args, {
      stdio,
      detached: shim === undefined,
      windowsHide: true,
      ...(shim !== undefined ? { env: shim.env } : options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    })
  } catch (e) {
    child = undefined
    const error = new SpawnError({ command, message: e instanceof Error ? e.message : String(e) })
    rejectSpawned(error)
    resolveExited({ exitCode: null, signal: null })
    resolveStreamsClosed()
    end({ expected: false, reason: `spawn failed: ${error.message}` })
  }

  const stdin = child?.stdin ?? null
  const stdout = child?.stdout ?? null
  // Eager: a lone request leaves at once (the server side keeps one write per turn).
  const batcher = stdin === null ? undefined : new OutputBatcher(stdin, { clock, eager: true })
  let framer: LineFramer | undefined = undefined

  const onLine = (line: string): void => {
    if (ended === undefined) handlers!.onFrame(line)
  }
  const onOversized = (bytes: number, edges: FrameEdges): void => {
    if (ended === undefined) handlers!.onOversized(bytes, edges)
  }
  const onStdoutData = (chunk: Buffer): void => {
    framer!.push(chunk)
  }
  const onStdoutEnd = (): void => {
    framer!.end()
    // A server that closed its stdout can never answer again. It usually exits too (that exit is
    // the reason given); one that keeps running would hold every call until its deadline, so
    // after `closeGraceMs` the connection ends (and the owner's close reaps the group).
    if (closing || ended !== undefined || exitInfo !== undefined) return
    void within(clock, exited, closeGraceMs).then((exitedMeanwhile) => {
      if (!exitedMeanwhile && !closing) end({ expected: false, reason: "server closed its stdout (the process is still running)" })
    })
  }

  // When the group got SIGTERM / SIGKILL (by close() or by the reaper).
  let termSentAt: number | undefined = undefined
  let killSent = false
  /** The group, or the leader alone while it is still the shim (its group is not set yet); never a reaped pid. */
  const signalChild = (pid: number, signal: NodeJS.Signals): void => {
    if (!signalGroup(pid, signal) && exitInfo === undefined) child?.kill(signal)
  }
  const terminate = (pid: number): void => {
    termSentAt ??= clock.now()
    signalChild(pid, "SIGTERM")
  }
  const kill = (pid: number): void => {
    killSent = true
    signalChild(pid, "SIGKILL")
  }

  /**
   * After the leader exited: SIGTERM what is left of its group, SIGKILL it
   * after `termGraceMs`, and wait (bounded) until the group is gone.
   */
  const reapGroup = async (pid: number): Promise<void> => {
    if (!processGroupAlive(pid)) return
    if (!killSent) {
      if (termSentAt === undefined) terminate(pid)
      const deadline = termSentAt! + termGraceMs
      while (clock.now() < deadline) {
        await sleep(GROUP_POLL_MS)
        if (!processGroupAlive(pid)) return
      }
      kill(pid)
    }
    // SIGKILL cannot be caught, but delivery is not instantaneous.
    const killDeadline = clock.now() + KILL_WAIT_MS
    while (processGroupAlive(pid) && clock.now() < killDeadline) await sleep(GROUP_POLL_MS)
  }

  const spawnFailed = (message: string): void => {
    spawnFailure = true
    exitInfo = { exitCode: null, signal: null }
    rejectSpawned(new SpawnError({ command, message }))
    resolveExited(exitInfo)
    end({ expected: false, reason: `spawn failed: ${message}` })
  }

  if (child !== undefined) {
    const c = child
    // Through the shim, the command runs once the status pipe closes after `s`; before that,
    // an exit is the shim's (it could not exec the command, or died first).
    const status = perl === null ? undefined : (c.stdio[statusFd] as Readable | null | undefined)
    let shimStatus: Promise<ShimStatus> | undefined = undefined
    if (status != null) {
      shimStatus = new Promise<ShimStatus>((resolve) => {
        let text = ""
        status.setEncoding("latin1")
        status.on("data", (chunk: string) => (text += chunk))
        status.on("error", noop)
        status.once("close", () => resolve(parseShimStatus(text)))
      })
      void shimStatus.then((s) => {
        status.destroy()
        if (s._tag === "Started") resolveSpawned()
      })
    } else {
      c.once("spawn", () => resolveSpawned())
    }
    c.on("error", (e: Error) => {
      // Before 'spawn' this is a spawn failure; later errors (a failed kill) change nothing.
      if (c.pid !== undefined || exitInfo !== undefined) return
      spawnFailed(spawnMessage(command, e, options.cwd))
    })
    const onExit = (exitCode: number | null, signal: NodeJS.Signals | null, shim: ShimStatus | undefined): void => {
      if (shim?._tag === "ExecFailed") return spawnFailed(`spawn ${command} ${shim.code}`)
      if (shim?._tag === "DiedEarly") {
        const how = signal !== null ? `killed by ${signal}` : `exited with code ${exitCode}`
        rejectSpawned(new SpawnError({ command, message: `spawn ${command}: the process-group shim ${how} before starting it` }))
        // Our own close() may have signalled it: that is an ordinary exit, reported below.
        if (!closing) return spawnFailed(`spawn ${command}: the process-group shim ${how} before starting it`)
      }
      exitInfo = { exitCode, signal }
      resolveExited(exitInfo)
      if (c.pid !== undefined) reaped = reapGroup(c.pid)
      if (closing) return
      const closed: TransportClosed = {
        expected: false,
        reason: signal !== null ? `server process killed by ${signal}` : `server process exited with code ${exitCode}`,
        exitCode,
        signal
      }
      // Node may report the exit before it has read what the server wrote just before exiting (its
      // last answer, often): deliver stdout to its end first, waiting at most `closeGraceMs` for a
      // grandchild that still holds it (the group is being reaped meanwhile).
      if (handlers === undefined || stdout === null) end(closed)
      else void within(clock, stdoutDone, closeGraceMs).then(() => end(closed))
    }
    c.on("exit", (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (shimStatus === undefined) onExit(exitCode, signal, undefined)
      else void shimStatus.then((s) => onExit(exitCode, signal, s))
    })
    c.on("close", () => resolveStreamsClosed())
    // A dead child makes its stdin emit EPIPE; the exit is reported through 'exit'.
    stdin?.on("error", noop)
    stdout?.on("error", noop)
    stdout?.once("close", () => resolveStdoutDone())
    // The lifeline carries nothing; reading it lets it reach EOF (and 'close') when the group exits.
    const lifeline = options.lifeline === true ? (c.stdio[3] as Readable | null | undefined) : undefined
    lifeline?.on("error", noop)
    lifeline?.resume()
    c.stderr?.on("error", noop)
    if (typeof stderrOption === "function" && c.stderr !== null) {
      const stderrFramer = new LineFramer({ maxMessageBytes, onLine: stderrOption, onOversized: noop })
      c.stderr.on("data", (chunk: Buffer) => stderrFramer.push(chunk))
      c.stderr.on("end", () => stderrFramer.end())
    }
  }

  const destroyStreams = (): void => {
    stdin?.destroy()
    stdout?.destroy()
    child?.stderr?.destroy()
    ;(child?.stdio[3] as Readable | null | undefined)?.destroy()
    ;(child?.stdio[4] as Readable | null | undefined)?.destroy()
  }

  const doClose = async (): Promise<void> => {
    closing = true
    const c = child
    if (c !== undefined && c.pid !== undefined) {
      const pid = c.pid
      // Nobody may ever read stdout: drain it so the pipe can reach EOF.
      if (handlers === undefined) stdout?.resume()
      const flushed = batcher === undefined ? Promise.resolve() : batcher.end()
      stdin?.end()
      if (exitInfo === undefined && !(await within(clock, exited, closeGraceMs))) {
        terminate(pid)
        if (!(await within(clock, exited, termGraceMs))) {
          kill(pid)
          await exited
        }
      }
      await reaped
      if (!(await within(clock, streamsClosed, STREAM_CLOSE_WAIT_MS))) {
        // Something outside the group still holds the pipes.
        destroyStreams()
      }
      await flushed
    } else if (c !== undefined) {
      await exited // spawn failure: 'error' is emitted on the next tick
      if (!(await within(clock, streamsClosed, STREAM_CLOSE_WAIT_MS))) destroyStreams()
    }
    await streamsClosed
    // libuv closes the process and pipe handles in its close phase: let that
    // run so that nothing of ours is left among the active handles.
    await nextLoopIteration()
    await nextLoopIteration()
    end({ expected: true, reason: "closed", exitCode: exitInfo?.exitCode ?? null, signal: exitInfo?.signal ?? null })
  }

  return {
    kind: "stdio",
    authoritativeLiveness: true,
    get pid() {
      return spawnFailure ? undefined : child?.pid
    },
    spawned,
    exited,
    stderr: stderrOption === "pipe" ? (child?.stderr ?? null) : null,
    newSession: perl === null,
    start(h) {
      if (handlers !== undefined) throw new Error("stdio client transport: start() called twice")
      handlers = h
      if (stdout !== null) {
        framer = new LineFramer({ maxMessageBytes, onLine, onOversized })
        stdout.on("data", onStdoutData)
        stdout.on("end", onStdoutEnd)
      }
      if (ended !== undefined && !delivered) {
        delivered = true
        h.onClose(ended)
      }
    },
    send(message: JsonRpcMessage) {
      if (ended !== undefined || batcher === undefined) return
      batcher.push(encode(message))
    },
    sendText(text: string) {
      if (ended !== undefined || batcher === undefined) return
      batcher.push(text)
    },
    close() {
      if (closePromise === undefined) closePromise = doClose()
      return closePromise
    }
  }
}

/** Scoped stdio client transport: waits for the spawn; the scope's finalizer runs `close()`. */
export const StdioClientTransport = {
  make: (
    options: StdioClientOptions
  ): Effect.Effect<StdioClientTransport & { readonly pid: number }, SpawnError, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.callback<StdioClientTransport & { readonly pid: number }, SpawnError>((resume) => {
        const transport = makeStdioClientTransport(options)
        transport.spawned.then(
          () => resume(Effect.succeed(transport as StdioClientTransport & { readonly pid: number })),
          (error: SpawnError) => resume(Effect.promise(() => transport.close()).pipe(Effect.andThen(Effect.fail(error))))
        )
      }),
      (transport) => Effect.promise(() => transport.close())
    )
}
