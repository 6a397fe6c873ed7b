/** Name and value validation, and the key rule for names, on the memory backend (no server needed). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { electionPrefix, entryKey, escapeName, unescapeName } from '../src/backends/etcd/keys.js';
import { InvalidArgumentError, memory } from '../src/index.js';

describe('names', () => {
  test('blank names, control characters and lone surrogates are refused, with the noun that was asked', async () => {
    const backend = memory();
    const session = await backend.session({ ttl: 5 });
    try {
      const bad: [string, RegExp][] = [
        ['   ', /election name must not be blank/],
        ['\t\n', /election name must not be blank/],
        ['a\0b', /election name "a\\u0000b" contains a control character/],
        ['a\u001bb', /contains a control character/],
        ['a\u007fb', /contains a control character/],
        ['a\ud800b', /election name "a\\ud800b" contains a lone UTF-16 surrogate/],
        ['\udc00', /contains a lone UTF-16 surrogate/],
      ];
      for (const [name, message] of bad) {
        assert.throws(() => session.election(name), InvalidArgumentError, JSON.stringify(name));
        assert.throws(() => session.election(name), message);
        await assert.rejects(backend.leader(name), { code: 'INVALID_ARGUMENT' });
      }
      assert.throws(() => session.mutex(' '), /mutex name must not be blank/);
      assert.throws(() => session.mutex('x\0'), /mutex name "x\\u0000" contains a control character/);
      // Names that are fine: inner spaces, a surrogate pair, non-ASCII, '%' and '/'.
      for (const name of ['a b', ' padded ', 'emoji-\u{1f600}', 'équipe', '50%', 'team/sub'])
        assert.equal(session.election(name).name, name);
    } finally {
      await backend.close();
    }
  });

  test('an oversized proclaim is named as such, not as a campaign value', async () => {
    const backend = memory();
    const session = await backend.session({ ttl: 5 });
    try {
      const election = session.election('sizes');
      const big = 'x'.repeat(1024 * 1024 + 1);
      await assert.rejects(election.campaign(big), /^InvalidArgumentError: campaign value is 1048577 bytes/);
      await election.campaign('small');
      await assert.rejects(election.proclaim(big), (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /^proclaim value is 1048577 bytes; the limit is 1048576/);
        return true;
      });
      assert.equal((await election.leader())?.value, 'small');
    } finally {
      await backend.close();
    }
  });
});

describe('key rule', () => {
  test("'%' and '/' are escaped in keys, nothing else; names without them keep Go's layout", () => {
    assert.equal(entryKey('jobs', '255'), 'jobs/ff');
    assert.equal(electionPrefix('a b.c-d_é'), 'a b.c-d_é/');
    assert.equal(electionPrefix('team/sub'), 'team%2Fsub/');
    assert.equal(electionPrefix('50%/x'), '50%25%2Fx/');
    assert.equal(escapeName('%2F'), '%252F', 'an escaped-looking name does not collide with "/"');
    for (const name of ['team', 'team/sub', '%', '%2F', '/%/', 'a%25b/c'])
      assert.equal(unescapeName(escapeName(name)), name);
    // Prefixes no name escapes to: a raw '/', or a '%' that starts no escape.
    for (const raw of ['team/sub', '50%', '%2f', '%41']) assert.equal(unescapeName(raw), undefined, raw);
    // No election's prefix lies under another's.
    assert.ok(!electionPrefix('team/sub').startsWith(electionPrefix('team')));
  });
});
