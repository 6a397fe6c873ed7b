import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { campaign } from './commands/campaign.js';
import { demo, demoWorker } from './commands/demo.js';
import { leader } from './commands/leader.js';
import { list } from './commands/list.js';
import { observe } from './commands/observe.js';
import { resign } from './commands/resign.js';
import { run } from './commands/run.js';
import { parseDuration } from './duration.js';
import { checkElectionName } from './elections.js';
import { UsageError, describeError, exitCodeFor } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { addGlobalOptions, resolveGlobals, type GlobalDefaults } from './options.js';

const ETCD: GlobalDefaults = { backend: 'etcd', ttl: 10 };
const DEMO: GlobalDefaults = { backend: 'memory', ttl: 2 };

const EXAMPLES = `
Examples:
  $ ballot demo                                  # the embedded demo: 5 candidates, 4 faults, ~20 s
  $ ballot campaign jobs host-a                  # lead "jobs" until Ctrl-C, then resign
  $ ballot observe jobs --json                   # every leader change, "none" included
  $ ballot leader jobs                           # the leader now (exit 3 when there is none)
  $ ballot run jobs --grace 10s -- ./worker.sh   # run worker.sh only while leader
  $ ballot lock nightly -- ./backup.sh           # run backup.sh while holding the "nightly" mutex
  $ ballot list                                  # every election, its leader and its queue
  $ ballot resign jobs                           # operator: make the leader step down

Exit codes: 0 ok, 2 usage, 3 no leader, 4 deposed, 5 unavailable, 6 auth, 7 backend error,
8 demo invariant violated, 9 conflict; \`run\` exits with its command's code.`;

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
      'Leader election with fenced terms, from the shell. Runs on etcd; `ballot demo` needs nothing.',
    )
    .version(packageVersion(), '--version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  addGlobalOptions(program);
  program.addHelpText('after', EXAMPLES);

  program
    .command('campaign')
    .summary('campaign, print when elected, hold the term until SIGINT/SIGTERM')
    .description(
      'Campaign and wait in line; print `elected` when this candidate leads; hold the term until\n' +
        'SIGINT/SIGTERM, then resign and exit 0. If the term ends any other way (key deleted,\n' +
        'session lost, backend unreachable past the deadline), print `deposed` and exit 4.',
    )
    .argument('<election>', 'election name')
    .argument('<value>', "this candidate's value, e.g. its address")
    .action(async (election: string, value: string, _o: unknown, cmd: Command) => {
      result.code = await campaign(checkElectionName(election), value, resolveGlobals(cmd, ETCD));
    });

  program
    .command('observe')
    .description('print the leader and every change of it, "none" included, until interrupted')
    .argument('<election>', 'election name')
    .action(async (election: string, _o: unknown, cmd: Command) => {
      result.code = await observe(checkElectionName(election), resolveGlobals(cmd, ETCD));
    });

  program
    .command('leader')
    .description('print the current leader once (exit 3 when there is none)')
    .argument('<election>', 'election name')
    .action(async (election: string, _o: unknown, cmd: Command) => {
      result.code = await leader(checkElectionName(election), resolveGlobals(cmd, ETCD));
    });

  program
    .command('run')
    .summary('run a command only while leader (like consul lock, with a fencing token)')
    .description(
      'Campaign; once elected, run the command with BALLOT_ELECTION, BALLOT_TOKEN and\n' +
        "BALLOT_LEADER_KEY in its environment. When the term ends, the command's whole process\n" +
        'group gets SIGTERM, then SIGKILL after --grace. When the command exits, resign and exit\n' +
        'with its exit code (128+N if signal N killed it), or campaign again with --requeue.\n' +
        'A term that ends first exits 4 (without --requeue). SIGINT/SIGTERM stop the command the\n' +
        "same way, then resign. ballot's own events go to stderr; stdout is the command's.",
    )
    .usage('<election> [options] -- <cmd> [args...]')
    .argument('<election>', 'election name')
    .argument('[command...]', 'the command to run, after --')
    .option('--value <value>', 'campaign value (default: host:pid)')
    .addOption(new Option('--grace <duration>', 'time between SIGTERM and SIGKILL').default('5s'))
    .option('--requeue', 'campaign again (at the back) after the command exits or the term ends')
    .action(
      async (
        election: string,
        command: string[],
        flags: { value?: string; grace: string; requeue?: boolean },
        cmd: Command,
      ) => {
        const separator = argv.indexOf('--');
        if (separator < 0 || command.length === 0 || separator >= argv.length - 1)
          throw new UsageError(
            'missing command after --: ballot run <election> [options] -- <cmd> [args...]',
          );
        const options = resolveGlobals(cmd, ETCD);
        const runFlags = { grace: parseDuration(flags.grace, '--grace'), requeue: flags.requeue ?? false };
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
      'Wait for the mutex (FIFO, no herd); once held, run the command with BALLOT_LOCK,\n' +
        'BALLOT_TOKEN and BALLOT_LOCK_KEY in its environment. If the lock is lost, the command\n' +
        'group gets SIGTERM, then SIGKILL after --grace. When the command exits, unlock and exit with\n' +
        "its code. Shares locks with Go's concurrency.Mutex and `etcdctl lock`.",
    )
    .usage('<name> [options] -- <cmd> [args...]')
    .argument('<name>', 'lock name')
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
      'list elections whose name starts with a prefix: leader, queued candidates in order, lease TTL\n' +
        'left. A key without a lease under an election stands in line like an entry ("no lease").',
    )
    .argument('[prefix]', 'list the elections whose name starts with this (default: all)', '')
    .action(async (prefix: string, _o: unknown, cmd: Command) => {
      result.code = await list(prefix, resolveGlobals(cmd, ETCD));
    });

  program
    .command('resign')
    .summary('operator action: make the current leader step down')
    .description(
      "Delete the current leader's entry, guarded by its create revision so that a newer leader\n" +
        'is never removed by mistake. The next candidate takes over; the old leader sees its term\n' +
        'end (reason key-deleted). Exits 3 when there is no leader, 9 if the leader changed meanwhile.',
    )
    .argument('<election>', 'election name')
    .action(async (election: string, _o: unknown, cmd: Command) => {
      result.code = await resign(checkElectionName(election), resolveGlobals(cmd, ETCD));
    });

  program
    .command('demo')
    .summary('5 candidates, 4 injected faults, every invariant checked live (~20 s)')
    .description(
      'Start 5 candidates and inject a resign, a crash, a pause longer than the TTL and a\n' +
        'concede; show the leader, the line-up, tokens and session deadlines live; measure each\n' +
        'handover; check no-overlap and fencing as it goes; exit 0 only if every invariant held.\n' +
        'Runs on the embedded backend by default; --backend etcd runs each candidate in its own\n' +
        'process, so that the crash is a real SIGKILL and the pause a real SIGSTOP.',
    )
    .action(async (_o: unknown, cmd: Command) => {
      result.code = await demo(resolveGlobals(cmd, DEMO));
    });

  // One candidate of `ballot demo --backend etcd`, in its own process; not for people.
  program
    .command('__demo-worker', { hidden: true })
    .requiredOption('--name <name>')
    .requiredOption('--election <election>')
    .action(async (flags: { name: string; election: string }) => {
      result.code = await demoWorker(flags.name, flags.election);
    });

  return program;
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
