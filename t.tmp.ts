import { startHost } from "./src/host/McpHost.ts"
import { startSdkHttpServer } from "./test/fixtures/sdk-http-server.ts"
import { makeWsServer } from "./src/server/ws/WsServer.ts"
import { makeDemoServer } from "./examples/demo.ts"
const http = await startSdkHttpServer({})
const ws = await makeWsServer(makeDemoServer(), { port: 0 })
const t0 = Date.now()
const host = await startHost({ mcpServers: {
  everything: { command: process.execPath, args: ["node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"] },
  memory: { command: process.execPath, args: ["node_modules/@modelcontextprotocol/server-memory/dist/index.js"] },
  sdk: { url: http.url },
  demo: { url: ws.url },
} }, { stateFile: false, onStderr: () => {} })
console.log("started in", Date.now() - t0, host.state)
console.table(host.status())
console.log(host.tools().map((t) => t.name).join(" "))
console.log(JSON.stringify(await host.callTool("everything__echo", { message: "hi" })))
console.log(JSON.stringify(await host.callTool("sdk__echo", { text: "yo" })))
console.log(JSON.stringify(await host.callTool("demo__echo", { text: "yo" })))
await host.close(); await ws.close(); await http.close()
console.log("closed")
