import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { campaign } from './commands/campaign.js';
import { demo, demoWorker } from './commands/demo.js';
import { doctor } from './commands/doctor.js';
import { leader } from './commands/leader.js';
import { list } from './commands/list.js';
import { migrate } from './commands/migrate.js';
import { observe } from './commands/observe.js';
import { resign } from './commands/resign.js';
import { run } from './commands/run.js';
import { transfer } from './commands/transfer.js';
import { withBackend } from './connect.js';
import { parseDuration } from './duration.js';
import { UsageError, describeError, exitCodeFor } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { watchInterrupts, type Interrupts } from './interrupt.js';
import { checkElectionName } from './names.js';
import { addGlobalOptions, resolveGlobals, type GlobalDefaults } from './options.js';
import { cliLogger } from './logger.js';

const ETCD: GlobalDefaults = { backend: 'etcd', ttl: 10 };
const DEMO: GlobalDefaults = { backend: 'memory', ttl: 2 };
const MIGRATE: GlobalDefaults = { backend: 'postgres', ttl: 10 };
/** The election argument: on ZooKeeper a name can also be the znode path Curator's recipes use. */
const ELECTION = 'election name (ZooKeeper: one starting with / is that znode path)';
const HEALTH =
  'serve /healthz (503 when leading with renewals failing or the deadline near) and /readyz ' +
  '(200 only while leading) on host:port, e.g. 127.0.0.1:9100';

const EXAMPLES = `
Examples:
  $ ballot demo                       # 5 candidates, 4 faults, about 12 s
  $ ballot campaign jobs host-a       # lead "jobs" until Ctrl-C, then resign
  $ ballot observe jobs --json        # every leader change, "none" included
  $ ballot leader jobs                # the leader now (exit 3 if there is none)
  $ ballot run jobs -- ./worker.sh    # run worker.sh only while leader
  $ ballot lock nightly -- ./job.sh   # run job.sh holding the "nightly" mutex
  $ ballot list                       # every election, its leader and its queue
  $ ballot resign jobs                # operator: make the leader step down
  $ ballot transfer jobs host-b       # operator: hand leadership to host-b
  $ ballot doctor                     # server versions, known etcd bugs
  $ ballot leader jobs --backend postgres --dsn postgres://app@db:5432/app
  $ ballot leader /services/jobs/leader --backend zookeeper --zk zk1:2181/apps
                                      # a znode path: a Curator LeaderLatch's
  $ ballot migrate --print-sql --grant app   # DDL for a DBA to apply

Exit codes: 0 ok, 2 usage, 3 no leader, 4 deposed, 5 unavailable, 6 auth,
7 backend error, 8 demo invariant violated, 9 conflict (resign, transfer: the
leader changed, or is not ballot's and --force was not given; transfer: the
candidate is not waiting); transfer exits 5 if the candidate did not lead in
time; \`run\` and \`lock\` exit with their command's code.`;

/** Runs the `ballot` command line `argv` (process.argv form) and returns the exit code; never throws. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const result = { code: ExitCode.OK as number };
  const program = buildProgram(result, argv);
  try {
    await program.parseAsync([...argv]);
    return result.code;
  } catch (err) {
    // commander has already printed its own message for parse errors and help.
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    process.stderr.write(`${describeError(err)}\n`);
    return exitCodeFor(err);
  }
}

/** Builds the commander program; each action stores its exit code in `result`. */
export function buildProgram(result: { code: number }, argv: readonly string[]): Command {
  const program = new Command('ballot')
    .description(
      'Leader election with fenced terms, from the shell. Runs on etcd, PostgreSQL ' +
        '(--backend postgres) or ZooKeeper (--backend zookeeper); `ballot demo` needs nothing.',
    )
    .version(packageVersion(), '--version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .configureHelp({
      showGlobalOptions: true,
      // "run <election> [command...]", not "run [options] <election> [command...]": every command
      // has options, and the narrower column leaves room to wrap descriptions within 80 columns.
      subcommandTerm: (cmd) =>
        [
          cmd.name(),
          ...cmd.registeredArguments.map((a) => argumentTerm(a.name(), a.required, a.variadic)),
        ].join(' '),
    })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  addGlobalOptions(program);
  program.addHelpText('after', EXAMPLES);

  program
    .command('campaign')
    .summary('campaign, print when elected, hold the term until SIGINT/SIGTERM')
    .description(
      'Campaign and wait in line; print `elected` when this candidate leads; hold the term until ' +
        'SIGINT/SIGTERM, then resign and exit 0. If the term ends any other way (key deleted, ' +
        'session lost, backend unreachable past the deadline), print `deposed` and exit 4. ' +
        'A session lost while still waiting in line exits 5.',
    )
    .argument('<election>', ELECTION)
    .argument('<value>', "this candidate's value, e.g. its address")
    .option('--health <host:port>', HEALTH)
    .action(async (election: string, value: string, flags: { health?: string }, cmd: Command) => {
      const name = checkElectionName(election);
      const options = resolveGlobals(cmd, ETCD);
      const logger = cliLogger(options.logLevel);
      const campaignFlags = {
        ttl: options.ttl,
        ...(flags.health === undefined ? {} : { health: flags.health }),
        ...(logger ? { logger } : {}),
      };
      result.code = await interruptible((signal, onFirst) =>
        withBackend(options, 'campaign', (ctx) =>
          campaign(name, value, { ...campaignFlags, signal, onInterrupt: onFirst }, ctx),
        ),
      );
    });

  program
    .command('observe')
    .description('print the leader and every change of it, "none" included, until interrupted')
    .argument('<election>', ELECTION)
    .action(async (election: string, _o: unknown, cmd: Command) => {
      const name = checkElectionName(election);
      const options = resolveGlobals(cmd, ETCD);
      result.code = await interruptible((signal) =>
        withBackend(options, 'observe', (ctx) => observe(name, signal, ctx)),
      );
    });

  program
    .command('leader')
    .description('print the current leader once (exit 3 when there is none)')
    .argument('<election>', ELECTION)
    .action(async (election: string, _o: unknown, cmd: Command) => {
      const name = checkElectionName(election);
      result.code = await withBackend(resolveGlobals(cmd, ETCD), 'leader', (ctx) => leader(name, ctx));
    });

  program
    .command('run')
    .summary('run a command only while leader (like consul lock, with a fencing token)')
    .description(
      'Campaign; once elected, run the command with BALLOT_ELECTION, BALLOT_TOKEN and ' +
        "BALLOT_LEADER_KEY in its environment. When the term ends, the command's whole process " +
        'group gets SIGTERM, then SIGKILL after --grace. When the command exits, resign and exit ' +
        'with its exit code (128+N if signal N killed it), or campaign again with --requeue. ' +
        'A term that ends first exits 4 (without --requeue). SIGINT/SIGTERM stop the command the ' +
        'same way, then resign. If ballot itself is killed, even by SIGKILL, a watchdog SIGKILLs ' +
        "the command's group at once. ballot's own events go to stderr; stdout is the command's.",
    )
    .usage('<election> [options] -- <cmd> [args...]')
    .argument('<election>', ELECTION)
    .argument('[command...]', 'the command to run, after --')
    .option('--value <value>', 'campaign value (default: host:pid)')
    .addOption(new Option('--grace <duration>', 'time between SIGTERM and SIGKILL').default('5s'))
    .option('--requeue', 'campaign again (at the back) after the command exits or the term ends')
    .option('--health <host:port>', HEALTH)
    .action(
      async (
        election: string,
        command: string[],
        flags: { value?: string; grace: string; requeue?: boolean; health?: string },
        cmd: Command,
      ) => {
        const separator = argv.indexOf('--');
        if (separator < 0 || command.length === 0 || separator >= argv.length - 1)
          throw new UsageError(
            'missing command after --: ballot run <election> [options] -- <cmd> [args...]',
          );
        const options = resolveGlobals(cmd, ETCD);
        const runFlags = {
          grace: parseDuration(flags.grace, '--grace'),
          requeue: flags.requeue ?? false,
          ...(flags.health === undefined ? {} : { health: flags.health }),
        };
        result.code = await run(
          checkElectionName(election),
          argv.slice(separator + 1),
          flags.value === undefined ? runFlags : { ...runFlags, value: flags.value },
          options,
        );
      },
    );

  program
    .command('lock')
    .summary('run a command while holding a fenced mutex (like etcdctl lock)')
    .description(
      'Wait for the mutex (FIFO, no herd); once held, run the command with BALLOT_LOCK, ' +
        'BALLOT_TOKEN and BALLOT_LOCK_KEY in its environment. If the lock is lost, the command ' +
        'group gets SIGTERM, then SIGKILL after --grace. When the command exits, unlock and exit ' +
        'with its code. If ballot itself is killed, even by SIGKILL, a watchdog SIGKILLs the ' +
        "command's group at once. Shares locks with Go's concurrency.Mutex and `etcdctl lock`.",
    )
    .usage('<name> [options] -- <cmd> [args...]')
    .argument('<name>', 'lock name (ZooKeeper: one starting with / is that znode path)')
    .argument('[command...]', 'the command to run, after --')
    .addOption(new Option('--grace <duration>', 'time between SIGTERM and SIGKILL').default('5s'))
    .action(async (name: string, command: string[], flags: { grace: string }, cmd: Command) => {
      const separator = argv.indexOf('--');
      if (separator < 0 || command.length === 0 || separator >= argv.length - 1)
        throw new UsageError('missing command after --: ballot lock <name> [options] -- <cmd> [args...]');
      const options = resolveGlobals(cmd, ETCD);
      const lockFlags = { grace: parseDuration(flags.grace, '--grace'), requeue: false, value: '' };
      result.code = await run(
        checkElectionName(name, 'lock name'),
        argv.slice(separator + 1),
        lockFlags,
        options,
        'lock',
      );
    });

  program
    .command('list')
    .description(
      'list elections whose name starts with a prefix: leader, queued candidates in order, lease TTL ' +
        'left. A key without a lease under an election stands in line like an entry ("no lease").',
    )
    .argument('[prefix]', 'list the elections whose name starts with this (default: all)')
    .action(async (prefix: string | undefined, _o: unknown, cmd: Command) => {
      result.code = await withBackend(resolveGlobals(cmd, ETCD), 'list', (ctx) => list(prefix ?? '', ctx));
    });

  program
    .command('resign')
    .summary('operator action: make the current leader step down')
    .description(
      "Delete the current leader's entry, guarded by its token so that a newer leader " +
        'is never removed by mistake. The next candidate takes over; the old leader sees its term ' +
        'end (reason key-deleted). Exits 3 when there is no leader, 9 if the leader changed meanwhile. ' +
        'On ZooKeeper, a leader that is not a ballot candidate (e.g. a Curator LeaderLatch) does not ' +
        'watch its own node and would go on leading beside the next one: refused with exit 9 unless ' +
        '--force is given.',
    )
    .argument('<election>', ELECTION)
    .option(
      '--force',
      'ZooKeeper: delete the leader node even if it is not a ballot candidate (risks two leaders)',
    )
    .action(async (election: string, flags: { force?: boolean }, cmd: Command) => {
      const name = checkElectionName(election);
      result.code = await withBackend(resolveGlobals(cmd, ETCD), 'resign', (ctx) =>
        resign(name, ctx, { force: flags.force ?? false }),
      );
    });

  program
    .command('transfer')
    .summary('operator action: hand leadership to a named waiting candidate')
    .description(
      'Hand leadership to the waiting candidate with that value, in one atomic step guarded by the ' +
        "leader's token: the leader's entry and those ahead of the candidate's are deleted, then the " +
        'command waits until the candidate leads. The old leader sees its term end (key-deleted) and ' +
        'queues again, as do candidates passed over. Exits 3 when there is no leader, 9 if the leader ' +
        'changed or the candidate is not waiting (nothing deleted), 5 if the candidate did not lead ' +
        'within --timeout. On ZooKeeper a leader that is not a ballot candidate is refused (exit 9) ' +
        'unless --force is given, as for resign.',
    )
    .argument('<election>', ELECTION)
    .argument('<candidate>', "the waiting candidate's value (as `ballot list` shows it)")
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the candidate to lead').default('10s'),
    )
    .option(
      '--force',
      'ZooKeeper: delete the leader node even if it is not a ballot candidate (risks two leaders)',
    )
    .action(
      async (
        election: string,
        candidate: string,
        flags: { timeout: string; force?: boolean },
        cmd: Command,
      ) => {
        const name = checkElectionName(election);
        const timeout = parseDuration(flags.timeout, '--timeout');
        result.code = await withBackend(resolveGlobals(cmd, ETCD), 'transfer', (ctx) =>
          transfer(name, candidate, ctx, { timeout, force: flags.force ?? false }),
        );
      },
    );

  program
    .command('doctor')
    .summary('check the backend: endpoints reached, server versions, known server bugs')
    .description(
      'Ask every endpoint for its status and report the backend, the endpoints reached and each ' +
        "server's version. On etcd, say whether that version has the fix for etcd bug #15247 (a " +
        'paused raft leader revokes live leases when it resumes; fixed in 3.4.31, 3.5.13, 3.6.0): ' +
        'without it, no-overlap of believed leadership holds only while the raft leader is not ' +
        'paused, while fencing holds always. Exits 0 when the backend answers, a known bug ' +
        'included; 5 when no endpoint answers.',
    )
    .action(async (_o: unknown, cmd: Command) => {
      result.code = await doctor(resolveGlobals(cmd, ETCD));
    });

  program
    .command('demo')
    .summary('5 candidates, 4 injected faults, every invariant checked live (about 12 s)')
    .description(
      'Start 5 candidates and inject a resign, a crash, a pause longer than the TTL and a ' +
        'concede; show the leader, the line-up, tokens and session deadlines live; measure each ' +
        'handover; check no-overlap and fencing as it goes; exit 0 only if every invariant held. ' +
        'Runs on the embedded backend by default; --backend etcd, postgres or zookeeper runs each ' +
        'candidate in its own process, so that the crash is a real SIGKILL and the pause a real SIGSTOP.',
    )
    .action(async (_o: unknown, cmd: Command) => {
      result.code = await demo(resolveGlobals(cmd, DEMO));
    });

  program
    .command('migrate')
    .summary("PostgreSQL: create ballot's tables, or print their SQL for a DBA")
    .description(
      "Create ballot's tables in the --schema on PostgreSQL (--backend postgres is implied) as the " +
        'role of --dsn, and grant their use to --grant <role>; safe to run again. Other commands ' +
        'create the tables on first use when their role may. With --print-sql, print the script ' +
        '(and the GRANTs for --grant, else for app_user) without connecting: for a role without ' +
        'DDL rights, have the database owner apply it with psql.',
    )
    .option('--print-sql', 'print the SQL instead of running it; needs no server')
    .option('--grant <role>', 'grant this role the use of the tables')
    .action(async (flags: { printSql?: boolean; grant?: string }, cmd: Command) => {
      const options = resolveGlobals(cmd, MIGRATE);
      const migrateFlags = { printSql: flags.printSql ?? false };
      result.code = await migrate(
        flags.grant === undefined ? migrateFlags : { ...migrateFlags, grant: flags.grant },
        options,
      );
    });

  // One candidate of `ballot demo --backend etcd|postgres|zookeeper`, in its own process; not for people.
  program
    .command('__demo-worker', { hidden: true })
    .requiredOption('--name <name>')
    .requiredOption('--election <election>')
    .action(async (flags: { name: string; election: string }) => {
      result.code = await demoWorker(flags.name, flags.election);
    });

  return program;
}

/** Runs `body` with a signal that aborts on the first SIGINT/SIGTERM/SIGHUP (see watchInterrupts). */
async function interruptible(
  body: (signal: AbortSignal, onFirst: Interrupts['onFirst']) => Promise<number>,
): Promise<number> {
  const interrupts = watchInterrupts();
  try {
    return await body(interrupts.signal, interrupts.onFirst);
  } finally {
    interrupts.dispose();
  }
}

function argumentTerm(name: string, required: boolean, variadic: boolean): string {
  const text = `${name}${variadic ? '...' : ''}`;
  return required ? `<${text}>` : `[${text}]`;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
