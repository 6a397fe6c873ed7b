#!/usr/bin/env node
/** Entry point of the `ballot` command (package.json bin). */
import { compileEagerlyFor } from './eager-compile.js';

// Before the rest of the CLI loads: see eager-compile.ts.
compileEagerlyFor(process.argv);
const { runCli } = await import('./program.js');
process.exitCode = await runCli(process.argv);
