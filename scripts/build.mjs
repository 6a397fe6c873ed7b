// `npm run build`: the ESM build in dist/, the CommonJS build of the library in dist/cjs/ (the CLI
// is ESM only), each with its declarations. Starts from an empty dist/ so that no stale file
// (an old source map, a removed module) can end up in the package.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');

rmSync(dist, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json'])
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });

// tsc compiled each foo.cjs.ts in place of foo.ts (moduleSuffixes) but kept its name, while the
// emitted require() calls name foo.js: give the outputs the names the requires use.
for (const entry of readdirSync(cjs, { recursive: true, withFileTypes: true })) {
  const match = /^(.*)\.cjs(\.js|\.d\.ts)$/.exec(entry.name);
  if (entry.isFile() && match)
    renameSync(join(entry.parentPath, entry.name), join(entry.parentPath, match[1] + match[2]));
}
// Node and TypeScript read the module format of dist/cjs/*.js and *.d.ts from the nearest package.json.
writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
chmodSync(join(dist, 'cli', 'main.js'), 0o755);
