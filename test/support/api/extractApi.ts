/**
 * Reads the public API of mcp-actors — every export of every package entry
 * point, with its doc comment — from the sources.
 *
 * TypeScript 7 (the project's compiler) is native and has no JS API, so this
 * uses the TypeScript 6 compiler API bundled in `@ts-morph/common` (a second
 * `typescript` package would bring a second `tsc` bin, and npm links either
 * one to `node_modules/.bin/tsc`). Only the entry points' exports are resolved
 * and only their declarations are printed: no full type check runs, which
 * keeps this fast enough to run in every `npm test`.
 */
import { dirname, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { ts } from "@ts-morph/common"

/** A package entry point (a key of `package.json` `exports`) and the source file behind it. */
export interface EntryPoint {
  /** The import specifier a consumer writes, e.g. `mcp-actors/effect`. */
  readonly specifier: string
  /** The `package.json` `exports` key, e.g. `./effect`. */
  readonly exportsKey: string
  /** Source file, relative to the repository root. */
  readonly source: string
  /** Output file name under `docs/api/`. */
  readonly page: string
}

/** The entry points the reference covers; a test checks this against `package.json` `exports`. */
export const entryPoints: ReadonlyArray<EntryPoint> = [
  { specifier: "mcp-actors", exportsKey: ".", source: "src/index.ts", page: "mcp-actors.md" },
  { specifier: "mcp-actors/effect", exportsKey: "./effect", source: "src/effect.ts", page: "mcp-actors-effect.md" },
  { specifier: "mcp-actors/machines", exportsKey: "./machines", source: "machines/index.ts", page: "mcp-actors-machines.md" }
]

/** The kind of an exported declaration, as the reference names it. */
export type ApiKind = "class" | "function" | "interface" | "type" | "const" | "namespace" | "enum"

/** A documented member of an exported class or interface. */
export interface ApiMember {
  readonly name: string
  /** Declaration text without body and doc comment, e.g. `tool(name: string, …): this`. */
  readonly signature: string
  readonly doc: string
}

/** One public export of one entry point. */
export interface ApiExport {
  /** Name under which the entry point exports it. */
  readonly name: string
  readonly kind: ApiKind
  /** `true` for `export type` re-exports (usable in type positions only). */
  readonly typeOnly: boolean
  /** Defining file, relative to the repository root. */
  readonly file: string
  readonly line: number
  /** Declaration text without bodies and doc comments. */
  readonly signature: string
  /** Doc comment text (summary and details), without tags. */
  readonly doc: string
  /** `@example` tag bodies. */
  readonly examples: ReadonlyArray<string>
  /** Other tags, e.g. `@deprecated`, `@see`, as `[name, text]`. */
  readonly tags: ReadonlyArray<readonly [string, string]>
  /** Public members (classes and interfaces). */
  readonly members: ReadonlyArray<ApiMember>
}

/** An entry point with its exports, in declaration order grouped by defining file. */
export interface ApiEntry {
  readonly entry: EntryPoint
  /** Module doc comment of the entry file. */
  readonly doc: string
  readonly exports: ReadonlyArray<ApiExport>
}

/** The repository root (this file is `scripts/api/extractApi.ts`). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  allowImportingTsExtensions: true,
  noEmit: true,
  skipLibCheck: true,
  // Declarations are printed from source text, so the default library and
  // @types/node are not needed: leaving them out saves most of the parse time.
  noLib: true,
  types: []
}

/**
 * A compiler host that resolves only relative imports. The reference needs our
 * own modules, never the declarations of effect, xstate or ws (parsing those
 * would take most of the time): their types are printed from our source text.
 */
const localOnlyHost = (): ts.CompilerHost => {
  const host = ts.createCompilerHost(compilerOptions, true)
  host.resolveModuleNameLiterals = (literals, containingFile, redirected, options) =>
    literals.map((lit) => ({
      resolvedModule: lit.text.startsWith(".")
        ? ts.resolveModuleName(lit.text, containingFile, options, host, undefined, redirected).resolvedModule
        : undefined
    }))
  return host
}

/** Extracts every entry point's exports from the sources under `root`. */
export const extractApi = (root: string = repoRoot, entries: ReadonlyArray<EntryPoint> = entryPoints): ReadonlyArray<ApiEntry> => {
  const program = ts.createProgram({ rootNames: entries.map((e) => resolve(root, e.source)), options: compilerOptions, host: localOnlyHost() })
  const checker = program.getTypeChecker()
  return entries.map((entry) => {
    const sf = program.getSourceFile(resolve(root, entry.source))
    if (sf === undefined) throw new Error(`entry point not found: ${entry.source}`)
    const moduleSymbol = checker.getSymbolAtLocation(sf)
    if (moduleSymbol === undefined) throw new Error(`not a module: ${entry.source}`)
    const typeOnlyStars = typeOnlyStarExports(checker, sf)
    const exports = checker.getExportsOfModule(moduleSymbol).map((s) => describeExport(root, checker, s, typeOnlyStars.has(s.name)))
    return { entry, doc: moduleDoc(sf), exports: sortExports(exports) }
  })
}

const sortExports = (exports: ReadonlyArray<ApiExport>): ReadonlyArray<ApiExport> => {
  const firstSeen = new Map<string, number>()
  exports.forEach((e, i) => { if (!firstSeen.has(e.file)) firstSeen.set(e.file, i) })
  return [...exports].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.name.localeCompare(b.name) : firstSeen.get(a.file)! - firstSeen.get(b.file)!
  )
}

/** The module comment: the first JSDoc of the file when it is followed by a blank line or an import. */
const moduleDoc = (sf: ts.SourceFile): string => {
  const ranges = ts.getLeadingCommentRanges(sf.text, 0) ?? []
  const first = ranges.find((r) => sf.text.startsWith("/**", r.pos))
  return first === undefined ? "" : cleanComment(sf.text.slice(first.pos, first.end))
}

const cleanComment = (raw: string): string =>
  raw
    .replace(/^\/\*\*\s?/, "")
    .replace(/\s*\*\/$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\* ?/, ""))
    .join("\n")
    .trim()

const isTypeOnlyAlias = (symbol: ts.Symbol): boolean =>
  (symbol.declarations ?? []).some((d) =>
    (ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ||
    (ts.isExportDeclaration(d) && d.isTypeOnly)
  )

/** Names that the entry file re-exports with `export type * from`, which the checker does not mark on the symbols. */
const typeOnlyStarExports = (checker: ts.TypeChecker, sf: ts.SourceFile): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const st of sf.statements) {
    if (!ts.isExportDeclaration(st) || !st.isTypeOnly || st.exportClause !== undefined || st.moduleSpecifier === undefined) continue
    const target = checker.getSymbolAtLocation(st.moduleSpecifier)
    if (target !== undefined) for (const s of checker.getExportsOfModule(target)) names.add(s.name)
  }
  return names
}

const describeExport = (root: string, checker: ts.TypeChecker, exported: ts.Symbol, viaTypeStar: boolean): ApiExport => {
  const isAlias = (exported.flags & ts.SymbolFlags.Alias) !== 0
  const typeOnly = viaTypeStar || isTypeOnlyAlias(exported)
  const symbol = isAlias ? checker.getAliasedSymbol(exported) : exported
  const decls = (symbol.declarations ?? []).filter((d) => !ts.isModuleDeclaration(d) || symbol.flags & ts.SymbolFlags.Module)
  const decl = decls[0]
  if (decl === undefined) throw new Error(`no declaration for ${exported.name}`)
  const sf = decl.getSourceFile()
  const { line } = sf.getLineAndCharacterOfPosition(decl.getStart(sf))
  const jsDocs = decls.flatMap(ownJsDocs)
  const docs = jsDocs.map((j) => commentText(j.comment)).filter((t) => t !== "").join("\n\n")
  const jsTags = jsDocs.flatMap((j) => j.tags ?? [])
  const tagText = (t: ts.JSDocTag) => commentText(t.comment)
  return {
    name: exported.name,
    kind: kindOf(symbol),
    typeOnly,
    file: relative(root, sf.fileName),
    line: line + 1,
    signature: decls.filter((d) => !isOverloadImplementation(d, decls)).map(signatureOf).join("\n"),
    doc: docs,
    examples: jsTags.filter((t) => t.tagName.text === "example").map(tagText),
    tags: jsTags.filter((t) => t.tagName.text !== "example").map((t) => [t.tagName.text, tagText(t)] as const),
    members: membersOf(checker, symbol)
  }
}

/** An overloaded function's implementation signature is not callable by users. */
const isOverloadImplementation = (d: ts.Declaration, all: ReadonlyArray<ts.Declaration>): boolean =>
  ts.isFunctionDeclaration(d) && d.body !== undefined && all.some((o) => ts.isFunctionDeclaration(o) && o.body === undefined)

const commentText = (c: string | ts.NodeArray<ts.JSDocComment> | undefined): string =>
  (ts.getTextOfJSDocComment(c) ?? "").trim()

/**
 * The JSDoc comments of a declaration itself. TypeScript also attaches a file's
 * module comment to the first statement; when that statement has a comment of
 * its own too, the module comment (the first) is not part of its doc.
 */
const ownJsDocs = (d: ts.Declaration): ReadonlyArray<ts.JSDoc> => {
  const all = ts.getJSDocCommentsAndTags(d).filter(ts.isJSDoc)
  const statement = ts.isVariableDeclaration(d) ? d.parent.parent : d
  return all.length > 1 && statement.getSourceFile().statements[0] === statement ? all.slice(1) : all
}

const kindOf = (s: ts.Symbol): ApiKind => {
  const f = s.flags
  if (f & ts.SymbolFlags.Class) return "class"
  if (f & ts.SymbolFlags.Function) return "function"
  if (f & ts.SymbolFlags.Enum) return "enum"
  if (f & ts.SymbolFlags.Variable) {
    const d = s.valueDeclaration
    if (d !== undefined && ts.isVariableDeclaration(d) && d.initializer !== undefined &&
      (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer))) return "function"
    return "const"
  }
  if (f & ts.SymbolFlags.Interface) return "interface"
  if (f & ts.SymbolFlags.TypeAlias) return "type"
  return "namespace"
}

/** Source text of a declaration with its implementation elided (`…`): the API a reader calls. */
const signatureOf = (d: ts.Declaration): string => {
  const sf = d.getSourceFile()
  const node: ts.Node = ts.isVariableDeclaration(d) ? d.parent.parent : d
  const cut = bodyStart(d)
  let text = sf.text.slice(node.getStart(sf, false), cut ?? node.getEnd()).trimEnd()
  if (cut !== undefined) text = text.replace(/\s*(=>|=)?$/, (m) => (m.includes("=>") ? " => …" : m.includes("=") ? " = …" : ""))
  // Comments inside interfaces and type literals document their fields: keep them.
  return text.replace(/^export\s+(declare\s+)?/, "").replace(/\s+$/, "")
}

const stripComments = (text: string): string =>
  text.replace(/\/\*[\s\S]*?\*\/\s*/g, "").replace(/\/\/.*$/gm, "")

/** Where the part of a declaration that is implementation (not API) begins, if anywhere. */
const bodyStart = (d: ts.Declaration): number | undefined => {
  if (ts.isFunctionDeclaration(d)) return d.body === undefined ? undefined : d.body.getStart()
  if (ts.isClassDeclaration(d)) return d.members.pos - 1
  if ((ts.isVariableDeclaration(d) || ts.isPropertyDeclaration(d)) && d.initializer !== undefined) return initializerCut(d.initializer, d.type !== undefined)
  return undefined
}

/**
 * Where to cut an initializer: a function shows its parameters and return type,
 * a literal value (version lists, error codes) is the documentation and stays,
 * anything else is implementation (shown when short and untyped).
 */
const initializerCut = (init: ts.Expression, typed: boolean): number | undefined => {
  if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) return init.body.getStart()
  if (isLiteralValue(init)) return undefined
  return typed || init.getEnd() - init.getStart() > 120 ? init.getStart() : undefined
}

const isLiteralValue = (e: ts.Expression): boolean => {
  if (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e)) return isLiteralValue(e.expression)
  if (ts.isStringLiteral(e) || ts.isNumericLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return true
  if (e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword || e.kind === ts.SyntaxKind.NullKeyword) return true
  if (ts.isPrefixUnaryExpression(e)) return ts.isNumericLiteral(e.operand)
  if (ts.isArrayLiteralExpression(e)) return e.elements.every(isLiteralValue)
  if (ts.isObjectLiteralExpression(e)) return e.properties.every((p) => ts.isPropertyAssignment(p) && isLiteralValue(p.initializer))
  return false
}

const isPublicMember = (d: ts.Declaration): boolean => {
  const mods = ts.canHaveModifiers(d) ? ts.getModifiers(d) ?? [] : []
  if (mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) return false
  const name = ts.getNameOfDeclaration(d)
  return name === undefined || !ts.isPrivateIdentifier(name)
}

const membersOf = (checker: ts.TypeChecker, symbol: ts.Symbol): ReadonlyArray<ApiMember> => {
  if (!(symbol.flags & ts.SymbolFlags.Class)) return []
  const out: Array<ApiMember> = []
  const add = (m: ts.Symbol, isStatic: boolean) => {
    for (const d of m.declarations ?? []) {
      if (!isPublicMember(d) || ts.getJSDocTags(d).some((t) => t.tagName.text === "internal")) continue
      if (!(ts.isMethodDeclaration(d) || ts.isPropertyDeclaration(d) || ts.isGetAccessor(d) || ts.isConstructorDeclaration(d))) continue
      const sf = d.getSourceFile()
      const end = ts.isPropertyDeclaration(d) ? bodyStart(d) : d.body?.getStart()
      let sig = sf.text.slice(d.getStart(sf, false), end ?? d.getEnd()).trim()
      if (end !== undefined) sig = sig.replace(/\s*(=>|=)?$/, (m) => (m.includes("=>") ? " => …" : ""))
      sig = stripComments(sig).replace(/\s+/g, " ")
      if (isStatic && !/^(public\s+)?static\b/.test(sig)) sig = `static ${sig}`
      out.push({ name: m.name, signature: sig, doc: ownJsDocs(d).map((j) => commentText(j.comment)).join("\n\n") })
    }
  }
  symbol.members?.forEach((m) => add(m, false))
  symbol.exports?.forEach((m) => { if (m.name !== "prototype") add(m, true) })
  return out
}
