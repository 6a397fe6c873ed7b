/**
 * Exit codes of the `ballot` command. Scripts rely on these, so a code never changes meaning.
 *
 * | code | name        | when                                                                          |
 * |------|-------------|-------------------------------------------------------------------------------|
 * | 0    | OK          | success; also `campaign`/`observe` stopped by SIGINT/SIGTERM after resigning  |
 * | 1    | INTERNAL    | a bug in ballot (an unexpected error); set BALLOT_DEBUG=1 for the stack trace |
 * | 2    | USAGE       | bad flags or arguments, TTL out of range, missing command after `--`          |
 * | 3    | NO_LEADER   | `leader`/`resign`: the election has no leader                                 |
 * | 4    | DEPOSED     | the term ended for a reason other than our own resign (key deleted, session   |
 * |      |             | lost, backend unreachable past the deadline)                                  |
 * | 5    | UNAVAILABLE | the backend could not be reached within the dial timeout (endpoints named);   |
 * |      |             | also a candidate whose session was lost while it still waited in line;        |
 * |      |             | `transfer`: the step committed but the candidate did not lead within --timeout |
 * | 6    | AUTH        | the backend refused the credentials or the permission (or none were given to  |
 * |      |             | an etcd with auth); TLS: the server certificate failed verification, or a     |
 * |      |             | plain connection went to a server that expects TLS; PostgreSQL: a wrong       |
 * |      |             | password, or a role without rights on (or to create) ballot's tables          |
 * | 7    | BACKEND     | the backend answered with an error that retrying will not fix                 |
 * | 8    | INVARIANT   | `demo`: an invariant was violated                                             |
 * | 9    | CONFLICT    | `resign`, `transfer`: the leader changed meanwhile; or, on ZooKeeper, it is   |
 * |      |             | not a ballot candidate (Curator's: it would not notice) and --force was not   |
 * |      |             | given; `transfer`: the candidate is not waiting. Nothing was deleted          |
 * | 126  | CANNOT_EXEC | `run`: the command exists but could not be executed                           |
 * | 127  | NOT_FOUND   | `run`: the command was not found                                              |
 * | 130  | INTERRUPTED | `demo` interrupted before it finished; a second SIGINT/SIGTERM forced exit    |
 *
 * `ballot run` exits with its command's own exit code when the command exits by itself (or
 * 128+N when signal N killed it), so those codes can overlap with the ones above.
 */
export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  NO_LEADER: 3,
  DEPOSED: 4,
  UNAVAILABLE: 5,
  AUTH: 6,
  BACKEND: 7,
  INVARIANT: 8,
  CONFLICT: 9,
  CANNOT_EXEC: 126,
  NOT_FOUND: 127,
  INTERRUPTED: 130,
} as const;
