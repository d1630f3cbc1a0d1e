/**
 * The real servers the fuzzer (and the soak) talk to: `node src/cli/main.ts
 * serve --stdio|--http 0|--ws 0` as child processes, and the raw client
 * connections to them (a stdio pipe, a WebSocket).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { dirname, join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const BIN = join(ROOT, "src", "cli", "main.ts")

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams
  /** `http://…/mcp` or `ws://…/mcp` (network servers). */
  readonly url: string
  readonly stderr: () => string
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string | null>
  /** SIGTERM, then SIGKILL after `ms`. */
  stop(ms?: number): Promise<number | string | null>
}

export interface SpawnOptions {
  readonly maxMessageBytes?: number
  readonly nodeArgs?: ReadonlyArray<string>
  readonly extraArgs?: ReadonlyArray<string>
}

/** Start `serve --http 0` or `serve --ws 0` and wait for the URL it prints. */
export const spawnNetworkServer = async (kind: "http" | "ws", options: SpawnOptions = {}): Promise<ServerProcess> => {
  const proc = start([`--${kind}`, "0"], options)
  const url = await new Promise<string>((resolveUrl, reject) => {
    const rl = createInterface({ input: proc.child.stdout })
    rl.once("line", (line) => {
      rl.close()
      resolveUrl(line.trim())
    })
    void proc.exited.then((code) => reject(new Error(`server exited (${String(code)}) before listening: ${proc.stderr()}`)))
  })
  return { ...proc, url }
}

/** Start `serve --stdio`; the caller owns stdin/stdout. */
export const spawnStdioServer = (options: SpawnOptions = {}): ServerProcess => ({ ...start(["--stdio"], options), url: "" })

const start = (args: ReadonlyArray<string>, options: SpawnOptions): Omit<ServerProcess, "url"> => {
  const child = spawn(process.execPath, [
    ...(options.nodeArgs ?? []),
    BIN,
    "serve",
    ...args,
    "--max-message-bytes",
    String(options.maxMessageBytes ?? 131_072),
    ...(options.extraArgs ?? [])
  ], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString()
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000)
  })
  const exited = new Promise<number | string | null>((r) => child.once("exit", (code, signal) => r(code ?? signal)))
  return {
    child,
    stderr: () => stderr,
    exited,
    stop: async (ms = 5_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), ms)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}

/** A message-framed connection to a server: stdio lines or WebSocket text frames. */
export interface Connection {
  send(frame: Uint8Array): void
  /** Every message received, parsed; a line that is not JSON is recorded as `{ unparsable: text }`. */
  onMessage: ((m: unknown) => void) | undefined
  /** Resolves once the connection is gone, with why. */
  readonly closed: Promise<string>
  close(): Promise<void>
}

const parseOrFlag = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return { unparsable: text.slice(0, 500) }
  }
}

/** stdin/stdout of a stdio server process: one frame per line. */
export const stdioConnection = (proc: ServerProcess): Connection => {
  const conn: Connection = {
    onMessage: undefined,
    send: (frame) => {
      proc.child.stdin.write(frame)
      proc.child.stdin.write("\n")
    },
    closed: proc.exited.then((code) => `server process exited (${String(code)}); stderr: ${proc.stderr().slice(-2_000)}`),
    close: async () => {
      // EOF first: the server drains and exits 0 on its own; SIGTERM only if it does not.
      proc.child.stdin.end()
      const timer = setTimeout(() => void proc.stop(), 10_000)
      const code = await proc.exited
      clearTimeout(timer)
      if (code !== 0) throw new Error(`stdio server exited ${String(code)} after stdin EOF; stderr: ${proc.stderr().slice(-2_000)}`)
    }
  }
  proc.child.stdin.on("error", () => {})
  // Split on "\n" only: readline would also split on U+2028/U+2029, which JSON may carry raw.
  let buffered = ""
  proc.child.stdout.setEncoding("utf8")
  proc.child.stdout.on("data", (chunk: string) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      conn.onMessage?.(parseOrFlag(line))
    }
  })
  return conn
}

/**
 * Resolves once the server on `conn` answers a ping, so that a process's start-up
 * (about a second of CPU; far longer under `nice` on a loaded machine) is not
 * counted against the first frame's reply deadline. Nothing else may arrive first.
 */
export const untilServing = async (conn: Connection, timeoutMs: number): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      new Promise<void>((ok, fail) => {
        conn.onMessage = (m) => {
          const id = typeof m === "object" && m !== null ? (m as { id?: unknown }).id : undefined
          if (id === "ready") ok()
          else fail(new Error(`before the start-up ping's answer: ${JSON.stringify(m).slice(0, 300)}`))
        }
        conn.send(Buffer.from('{"jsonrpc":"2.0","id":"ready","method":"ping"}'))
      }),
      conn.closed.then((why) => Promise.reject(new Error(`the server did not start: ${why}`))),
      new Promise<void>((_, fail) => (timer = setTimeout(() => fail(new Error(`the server did not answer a ping within ${timeoutMs} ms of starting`)), timeoutMs)))
    ])
  } finally {
    clearTimeout(timer)
    conn.onMessage = undefined
  }
}

/** A WebSocket (subprotocol `mcp`), open. Frames go out as text frames, bytes untouched. */
export const wsConnection = async (url: string): Promise<Connection & { readonly socket: WebSocket }> => {
  const socket = new WebSocket(url, "mcp", { skipUTF8Validation: true })
  let closeCode = 0
  const closed = new Promise<string>((r) => socket.once("close", (code, reason) => {
    closeCode = code
    r(`socket closed (${code} ${reason.toString()})`)
  }))
  await new Promise<void>((ok, fail) => {
    socket.once("open", () => ok())
    socket.once("error", fail)
  })
  socket.on("error", () => {})
  const conn = {
    socket,
    onMessage: undefined as ((m: unknown) => void) | undefined,
    send: (frame: Uint8Array) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(frame, { binary: false })
    },
    closed,
    get closeCode() {
      return closeCode
    },
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return
      socket.close(1000)
      const t = setTimeout(() => socket.terminate(), 2_000)
      await closed
      clearTimeout(t)
    }
  }
  socket.on("message", (data: Buffer, isBinary: boolean) => conn.onMessage?.(isBinary ? { binaryFrame: true } : parseOrFlag(data.toString("utf8"))))
  return conn
}
