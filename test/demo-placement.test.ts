/**
 * The demo ships with the CLI but stays out of the library: nothing `import 'ballot'` loads may
 * reach src/cli/ (the demo, its worker) or src/check/ (the invariant checker the demo runs).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every source file reachable from `entry` through relative imports and re-exports. */
function importGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g))
      visit(join(dirname(file), `${m[1]}.ts`));
  };
  visit(join(root, entry));
  return new Set([...seen].map((f) => relative(root, f)));
}

test("the library's import graph holds neither the CLI nor the demo's checker", () => {
  const graph = importGraph('src/index.ts');
  assert.ok(graph.has('src/core/elector.ts'), 'the walk follows imports');
  assert.deepEqual(
    [...graph].filter((f) => f.startsWith('src/cli/') || f.startsWith('src/check/')),
    [],
  );
});

test('the CLI reaches the demo, built on LeaderElector, and the shared checker', () => {
  const graph = importGraph('src/cli/main.ts');
  for (const file of ['src/cli/demo/candidate.ts', 'src/check/checker.ts', 'src/core/elector.ts'])
    assert.ok(graph.has(file), `${file} is reachable from the CLI`);
});
