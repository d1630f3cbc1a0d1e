#!/usr/bin/env node
// The `mcp-actors` executable: the CLI is TypeScript, run directly by Node's type stripping (Node >= 22.18).
import "./main.ts"
