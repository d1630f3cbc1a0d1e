import { describe, expect, it } from "vitest"
import { acceptListingEntries, buildCatalog, type CatalogSource, diffListings, emptyListing, listingHash, resourceOwner, type ServerListing } from "../src/host/Catalog.ts"

const listing = (over: Partial<ServerListing>): ServerListing => ({ ...emptyListing, ...over })
const source = (server: string, l: Partial<ServerListing>, over: Partial<CatalogSource> = {}): CatalogSource => ({
  server, toolPrefix: server, allowedTools: undefined, blockedTools: [], listing: listing(l), ...over
})
const tools = (...names: Array<string>) => names.map((name) => ({ name, inputSchema: { type: "object" } }))

describe("catalog", () => {
  it("namespaces tools and prompts as server__name (separator configurable), keeping the original for routing", () => {
    const c = buildCatalog([source("a", { tools: tools("x"), prompts: [{ name: "p" }] }), source("b", { tools: tools("x") })], { separator: "__", collisions: "prefix" })
    expect([...c.tools.keys()]).toEqual(["a__x", "b__x"])
    expect(c.tools.get("b__x")).toMatchObject({ server: "b", original: "x", definition: { name: "b__x" } })
    expect([...c.prompts.keys()]).toEqual(["a__p"])
    expect(c.collisions).toEqual([])
    const dotted = buildCatalog([source("a", { tools: tools("x") })], { separator: ".", collisions: "prefix" })
    expect([...dotted.tools.keys()]).toEqual(["a.x"])
  })

  it("prefix policy: two servers with the same toolPrefix — the first keeps the name, the clash is reported", () => {
    const c = buildCatalog([source("a", { tools: tools("x") }, { toolPrefix: "p" }), source("b", { tools: tools("x") }, { toolPrefix: "p" })], { separator: "__", collisions: "prefix" })
    expect(c.tools.get("p__x")?.server).toBe("a")
    expect(c.collisions).toEqual([{ kind: "tool", name: "p__x", kept: "a", dropped: ["b"] }])
  })

  it("prefix policy: toolPrefix \"\" means no prefix (the original names, not __x), a clash with another server reported", () => {
    const c = buildCatalog([source("a", { tools: tools("x", "y"), prompts: [{ name: "p" }] }, { toolPrefix: "" }), source("b", { tools: tools("x") })], { separator: "__", collisions: "prefix" })
    expect([...c.tools.keys()]).toEqual(["x", "y", "b__x"])
    expect(c.tools.get("x")).toMatchObject({ server: "a", original: "x" })
    expect([...c.prompts.keys()]).toEqual(["p"])
    const clash = buildCatalog([source("a", { tools: tools("x") }, { toolPrefix: "" }), source("b", { tools: tools("x") }, { toolPrefix: "" })], { separator: "__", collisions: "prefix" })
    expect(clash.collisions).toEqual([{ kind: "tool", name: "x", kept: "a", dropped: ["b"] }])
  })

  it("first-wins keeps original names and reports the losers; error serves a clashing name to nobody", () => {
    const sources = [source("a", { tools: tools("x", "only-a") }), source("b", { tools: tools("x") })]
    const first = buildCatalog(sources, { separator: "__", collisions: "first-wins" })
    expect([...first.tools.keys()].sort()).toEqual(["only-a", "x"])
    expect(first.tools.get("x")?.server).toBe("a")
    expect(first.collisions).toEqual([{ kind: "tool", name: "x", kept: "a", dropped: ["b"] }])
    const error = buildCatalog(sources, { separator: "__", collisions: "error" })
    expect([...error.tools.keys()]).toEqual(["only-a"])
    expect(error.collisions).toEqual([{ kind: "tool", name: "x", kept: undefined, dropped: ["a", "b"] }])
  })

  it("allowedTools / blockedTools filter a server's tools", () => {
    const c = buildCatalog([
      source("a", { tools: tools("x", "y", "z") }, { allowedTools: ["x", "y"], blockedTools: ["y"] })
    ], { separator: "__", collisions: "prefix" })
    expect([...c.tools.keys()]).toEqual(["a__x"])
  })

  it("resources keep their URIs (first server wins a shared URI); templates route reads", () => {
    const c = buildCatalog([
      source("a", { resources: [{ uri: "file:///x", name: "x" }], resourceTemplates: [{ uriTemplate: "db://{table}/{id}", name: "row" }] }),
      source("b", { resources: [{ uri: "file:///x", name: "x again" }, { uri: "mem://y", name: "y" }] })
    ], { separator: "__", collisions: "prefix" })
    expect(resourceOwner(c, "file:///x")).toBe("a")
    expect(resourceOwner(c, "mem://y")).toBe("b")
    expect(resourceOwner(c, "db://users/7")).toBe("a")
    expect(resourceOwner(c, "nope://z")).toBeUndefined()
    expect(c.collisions).toEqual([{ kind: "resource", name: "file:///x", kept: "a", dropped: ["b"] }])
  })

  it("the listing hash ignores order and notices any change; the diff names what changed", () => {
    const one = listing({ tools: tools("a", "b") })
    const reordered = listing({ tools: tools("b", "a") })
    const changed = listing({ tools: [...tools("a"), { name: "b", description: "now documented", inputSchema: { type: "object" } }] })
    expect(listingHash(one)).toBe(listingHash(reordered))
    expect(listingHash(one)).not.toBe(listingHash(changed))
    expect(diffListings(one, listing({ tools: tools("a", "c") }))).toEqual({ added: ["tool:c"], removed: ["tool:b"], changed: [] })
    expect(diffListings(one, changed)).toEqual({ added: [], removed: [], changed: ["tool:b"] })
  })

  it("listing entries from a server are checked one by one; a report quotes at most 100 characters of a name", () => {
    const entries = [null, [], "t", { name: "" }, { name: "ok", inputSchema: { type: "object" } }, { name: "x".repeat(1_000_000) }]
    const { kept, problems } = acceptListingEntries("tools", entries)
    expect(kept).toEqual([{ name: "ok", inputSchema: { type: "object" } }])
    expect(problems).toEqual([
      "tools: not an object",
      "tools: not an object",
      "tools: not an object",
      "tools: no string name",
      `tools: tool "${"x".repeat(100)}": inputSchema is not an object schema`
    ])
    expect(acceptListingEntries("resources", [{ uri: "file:///a", name: "a" }, { uri: 1, name: "b" }]).problems).toEqual(["resources: no string uri and name"])
    expect(acceptListingEntries("resourceTemplates", [{ uriTemplate: "file:///{x}" }]).problems).toEqual(["resourceTemplates: no string uriTemplate and name"])
  })
})
