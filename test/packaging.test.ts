/**
 * The package as npm would publish it: `npm pack` (which builds through prepack), unpacked into a
 * scratch project and used from CommonJS, ESM, TypeScript (node16 resolution, both formats) and
 * as a command. Proves `exports`, `files` and the dual build together.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './cli-process.js';

const run = promisify(execFile);

interface PackageJson {
  version: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, Record<string, string>>>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

let scratch: string;
/** Where the package is unpacked, as `npm install` would put it. */
let installed: string;
/** Paths in the tarball, relative to the package root. */
let files: string[];

/** Runs a consumer script in the scratch project; its last stdout line is JSON. */
async function consumer(name: string, code: string): Promise<Record<string, unknown>> {
  await writeFile(join(scratch, name), code);
  const { stdout } = await run(process.execPath, [name], { cwd: scratch });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
}

/** A tiny election through the LeaderElector on the embedded backend, as a consumer would write it. */
const ELECTION = `
  const found = { etcd: typeof ballot.etcd, memory: typeof ballot.memory, LeaderElector: typeof ballot.LeaderElector };
  const backend = ballot.memory();
  const elector = new ballot.LeaderElector({ backend, election: 'jobs', value: 'consumer', ttl: 5 });
  let token;
  for await (const term of elector.terms()) { token = String(term.token); break; }
  const session = await backend.session({ ttl: 5 });
  const leader = await session.election('jobs').leader();
  await elector.stop();
  await backend.close();
  // The etcd backend loads its .proto files before the first call: an unreachable endpoint proves
  // they were found (UNAVAILABLE) rather than missing (BACKEND).
  const remote = ballot.etcd({ endpoints: ['127.0.0.1:1'], dialTimeout: 500, callTimeout: 500, env: {} });
  const remoteError = await remote.session({ ttl: 5 }).then(() => 'connected', (err) => err.code);
  await remote.close();
  console.log(JSON.stringify({ ...found, token, leader: leader && leader.value, remoteError, resolved: RESOLVED }));
`;

describe('the npm package', () => {
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ballot-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.ok(packed, 'npm pack reported the tarball');
    files = packed.files.map((f) => f.path);
    installed = join(scratch, 'node_modules', 'ballot');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', join(scratch, packed.filename), '-C', installed, '--strip-components=1']);
    // The dependencies come from this checkout's node_modules instead of the registry.
    for (const dep of Object.keys(pkg.dependencies)) {
      const link = join(scratch, 'node_modules', dep);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(ROOT, 'node_modules', dep), link, 'dir');
    }
    await writeFile(join(scratch, 'package.json'), '{ "name": "consumer", "private": true }\n');
  });

  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('holds the builds, the proto files and the documents, and no sources or tests', () => {
    for (const needed of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'proto/etcdserver.proto',
      'dist/cjs/package.json',
    ])
      assert.ok(files.includes(needed), `${needed} is in the package`);
    const targets = [
      pkg.main,
      pkg.types,
      ...Object.values(pkg.bin),
      ...Object.values(pkg.exports).flatMap((e) =>
        typeof e === 'string' ? [e] : Object.values(e).flatMap((c) => Object.values(c)),
      ),
    ];
    for (const target of targets)
      assert.ok(
        files.includes(posix.normalize(target)),
        `${target} (named in package.json) is in the package`,
      );
    const strays = files.filter((f) => /^(src|test|bench|scripts|docs)\//.test(f) || f.endsWith('.tgz'));
    assert.deepEqual(strays, []);
  });

  test('every runtime dependency is used by the shipped code', () => {
    const read = (ext: string) =>
      files
        .filter((f) => f.endsWith(ext))
        .map((f) => readFileSync(join(installed, f), 'utf8'))
        .join('\n');
    const [code, types] = [read('.js'), read('.d.ts')];
    // A types package (@types/pg) is a dependency because the shipped declarations name its module.
    const unused = Object.keys(pkg.dependencies).filter((dep) => {
      const typed = /^@types\/(.+)$/.exec(dep)?.[1];
      const [module, text] = typed ? [typed, types] : [dep, code];
      return !new RegExp(`(from |require\\()['"]${module}['"]`).test(text);
    });
    assert.deepEqual(unused, [], 'dependencies nothing imports');
  });

  test('no source map points at a file the package lacks', () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(installed, file), 'utf8'))?.[1];
      if (url && !url.startsWith('data:') && !files.includes(posix.join(posix.dirname(file), url)))
        broken.push(`${file} -> ${url}`);
    }
    for (const map of files.filter((f) => f.endsWith('.map'))) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      sources.forEach((source, i) => {
        const shipped = files.includes(posix.join(posix.dirname(map), source));
        if (!shipped && typeof sourcesContent?.[i] !== 'string') broken.push(`${map} -> ${source}`);
      });
    }
    assert.deepEqual(broken, [], `${broken.length} source maps point at missing files`);
  });

  test('require() loads the CommonJS build, which runs an election', async () => {
    const result = await consumer(
      'consumer.cjs',
      `const ballot = require('ballot');
       const RESOLVED = require.resolve('ballot');
       (async () => { ${ELECTION} })().catch((err) => { console.error(err); process.exit(1); });`,
    );
    assert.deepEqual(
      { ...result, resolved: String(result['resolved']).slice(installed.length) },
      {
        etcd: 'function',
        memory: 'function',
        LeaderElector: 'function',
        token: '1',
        leader: 'consumer',
        remoteError: 'UNAVAILABLE',
        resolved: '/dist/cjs/index.js',
      },
    );
  });

  test('import loads the ESM build, which runs an election', async () => {
    const result = await consumer(
      'consumer.mjs',
      `import * as ballot from 'ballot';
       const RESOLVED = import.meta.resolve('ballot');
       ${ELECTION}`,
    );
    assert.equal(result['etcd'], 'function');
    assert.equal(result['memory'], 'function');
    assert.equal(result['LeaderElector'], 'function');
    assert.equal(result['leader'], 'consumer');
    assert.equal(result['remoteError'], 'UNAVAILABLE');
    assert.match(String(result['resolved']), /\/node_modules\/ballot\/dist\/index\.js$/);
  });

  test('TypeScript (node16) finds types for both formats', async () => {
    const program = `import { etcd, memory, LeaderElector, type Backend } from 'ballot';
      const backend: Backend = memory();
      export const elector = new LeaderElector({ backend, election: 'e', value: 'v' });
      export const remote: Backend = etcd({ endpoints: ['127.0.0.1:2379'] });\n`;
    await writeFile(join(scratch, 'typed.cts'), program);
    await writeFile(join(scratch, 'typed.mts'), program);
    await writeFile(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['typed.cts', 'typed.mts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { stdout } = await run(process.execPath, [tsc, '-p', scratch, '--explainFiles'], {
      cwd: scratch,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string }) => assert.fail(`tsc failed:\n${err.stdout ?? String(err)}`));
    // Each file gets the declarations of its own format: a CommonJS file typed against the ESM
    // declarations would fail above with TS1479.
    assert.match(
      stdout,
      /node_modules\/ballot\/dist\/cjs\/index\.d\.ts\n\s+Imported via 'ballot' from file 'typed\.cts'/,
    );
    assert.match(
      stdout,
      /node_modules\/ballot\/dist\/index\.d\.ts\n\s+Imported via 'ballot' from file 'typed\.mts'/,
    );
  });

  test('metrics load the optional prom-client only when asked, from both builds', async () => {
    const body = `
      const backend = ballot.memory();
      const elector = new ballot.LeaderElector({ backend, election: 'm', value: 'v', ttl: 5 });
      for await (const term of elector.terms()) break;
      const loadedEarly = LOADED();
      let result;
      try {
        const { register } = await ballot.ballotMetrics(elector);
        const text = await register.metrics();
        result = { leader: /^ballot_is_leader\\{election="m"\\} 1$/m.test(text) };
      } catch (err) {
        result = { code: err.code, message: err.message };
      }
      await elector.stop();
      await backend.close();
      console.log(JSON.stringify({ loadedEarly, ...result }));`;
    const cjs = `const ballot = require('ballot');
      const LOADED = () => Object.keys(require.cache).some((k) => k.includes('prom-client'));
      (async () => { ${body} })().catch((err) => { console.error(err); process.exit(1); });`;
    const esm = `import * as ballot from 'ballot';
      const LOADED = () => false;
      ${body}`;
    // Not installed in the consumer project: a clear error, and nothing else breaks.
    for (const [name, code] of [
      ['metrics-missing.cjs', cjs],
      ['metrics-missing.mjs', esm],
    ] as const) {
      const missing = await consumer(name, code);
      assert.equal(missing['code'], 'INVALID_ARGUMENT', name);
      assert.match(String(missing['message']), /npm install prom-client/, name);
    }
    await symlink(
      join(ROOT, 'node_modules', 'prom-client'),
      join(scratch, 'node_modules', 'prom-client'),
      'dir',
    );
    const fromCjs = await consumer('metrics.cjs', cjs);
    assert.deepEqual(
      fromCjs,
      { loadedEarly: false, leader: true },
      'require(): loaded only by ballotMetrics',
    );
    const fromEsm = await consumer('metrics.mjs', esm);
    assert.deepEqual(fromEsm, { loadedEarly: false, leader: true });
  });

  test('the command runs from the unpacked package', async () => {
    const { stdout } = await run(process.execPath, [join(installed, pkg.bin['ballot'] ?? ''), '--version']);
    assert.equal(stdout.trim(), pkg.version);
    assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')));
  });
});
