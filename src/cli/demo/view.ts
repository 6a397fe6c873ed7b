import { systemClock } from '../../index.js';
import { formatMillis } from '../duration.js';
import { formatTable, jsonLine, type JsonField } from '../output.js';
import type { Harness } from './harness.js';
import type { Ledger } from './ledger.js';
import type { DemoLog } from './scenario.js';

/** What the views show besides events. */
export interface ViewContext {
  harness: Harness;
  ledger: Ledger;
  election: string;
  ttl: number;
  /** When the demo began (monotonic ms); event times are shown relative to it. */
  began: number;
}

/** A DemoLog that also owns the screen while the demo runs. */
export interface DemoView extends DemoLog {
  /** Starts periodic drawing (live view only). */
  start(): void;
  /** Draws one last time and releases the terminal. */
  stop(): void;
}

/** Picks the view: JSON lines, a live redrawn view on a terminal, or plain lines otherwise. */
export function createView(
  context: ViewContext,
  json: boolean,
  stream: NodeJS.WriteStream = process.stdout,
): DemoView {
  if (json) return new JsonView(context, stream);
  return stream.isTTY ? new LiveView(context, stream) : new PlainView(context, stream);
}

const paint = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const green = paint('32');
const red = paint('31');
const bold = paint('1');
const dim = paint('2');

/** "+07.31s": time since the demo began, until now or until `at`. */
function stamp(context: ViewContext, at = systemClock.now()): string {
  return `+${((at - context.began) / 1000).toFixed(2).padStart(5, '0')}s`;
}

/** One JSON object per event. */
class JsonView implements DemoView {
  constructor(
    private readonly context: ViewContext,
    private readonly stream: NodeJS.WritableStream,
  ) {}

  event(kind: string, fields: { [key: string]: JsonField }, _human: string, at?: number): void {
    const t = Math.round((at ?? systemClock.now()) - this.context.began);
    this.stream.write(`${jsonLine({ event: kind, t, ...fields })}\n`);
  }

  start(): void {}
  stop(): void {}
}

/** Plain lines for logs and pipes: every event, and the line-up after each election. */
class PlainView implements DemoView {
  constructor(
    private readonly context: ViewContext,
    private readonly stream: NodeJS.WritableStream,
  ) {}

  event(kind: string, _fields: { [key: string]: JsonField }, human: string, at?: number): void {
    this.stream.write(`${stamp(this.context, at)}  ${human}\n`);
    if (kind === 'elected')
      void this.context.harness.queue().then(
        (queue) => this.stream.write(`         line-up: ${lineUp(this.context, queue)}\n`),
        () => undefined,
      );
  }

  start(): void {
    const c = this.context;
    this.stream.write(
      `ballot demo: ${c.harness.kind} backend, election ${c.election}, 5 candidates, TTL ${c.ttl}s\n`,
    );
  }

  stop(): void {}
}

/** The live terminal view: redrawn in place ten times a second. */
class LiveView implements DemoView {
  private readonly events: string[] = [];
  private queue: string[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly context: ViewContext,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  event(_kind: string, _fields: { [key: string]: JsonField }, human: string, at?: number): void {
    this.events.push(`${dim(stamp(this.context, at))}  ${human}`);
    if (this.events.length > 12) this.events.shift();
  }

  start(): void {
    this.stream.write('\x1b[?25l');
    this.timer = setInterval(() => this.tick(), 100);
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    this.stream.write('\x1b[?25h');
  }

  private tick(): void {
    void this.context.harness.queue().then(
      (queue) => (this.queue = queue),
      () => undefined,
    );
    this.draw();
  }

  private draw(): void {
    const c = this.context;
    const now = systemClock.now();
    const rows = [['CANDIDATE', 'STATE', 'TOKEN', 'LEASE', 'DEADLINE', 'WRITES'].map((h) => dim(h))];
    for (const v of c.harness.candidates()) {
      const place = this.queue.indexOf(v.name);
      const state =
        v.state === 'leader'
          ? green(bold('LEADER'))
          : v.state === 'queued' && place > 0
            ? `queued #${place}`
            : v.state === 'crashed' || v.state === 'paused'
              ? red(v.state)
              : v.state;
      const left =
        v.deadline === undefined ? '-' : v.deadline > now ? `in ${formatMillis(v.deadline - now)}` : 'passed';
      rows.push([v.name, state, v.token?.toString() ?? '', v.lease ?? '', left, String(v.writes.ok)]);
    }
    const checks = (['overlap', 'tokens', 'handover', 'fencing'] as const)
      .map((i) => `${c.ledger.held(i) ? green('✓') : red('✗')} ${CHECK_LABELS[i]}`)
      .join('   ');
    // A pseudo-terminal may report 0 columns; assume a common width then.
    const width = this.stream.columns && this.stream.columns >= 40 ? this.stream.columns : 120;
    const lines = [
      bold(`ballot demo`) +
        dim(` · ${c.harness.kind} backend · election ${c.election} · TTL ${c.ttl}s · ${stamp(c)}`),
      '',
      ...formatTable(rows)
        .split('\n')
        .map((l) => `  ${l}`),
      '',
      `  line-up  ${lineUp(c, this.queue)}`,
      `  checks   ${checks}`,
      '',
      ...this.events.map((e) => `  ${e}`),
    ].map((line) => clip(line, width));
    // Move up over the previous frame, rewrite each line, then clear whatever the old frame had below.
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    this.stream.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n\x1b[J`);
    this.drawn = lines.length;
  }
}

const CHECK_LABELS = {
  overlap: 'no overlap',
  tokens: 'tokens increase',
  handover: 'handover bounds',
  fencing: 'writes fenced',
};

function lineUp(context: ViewContext, queue: readonly string[]): string {
  if (queue.length === 0) return 'no leader';
  const leader = context.ledger.current();
  return queue
    .map((name, i) => (i === 0 && leader?.cand === name ? `${name} (leader, token ${leader.token})` : name))
    .join(' ← ');
}

/** Cuts a line to the terminal width so that it never wraps (a wrapped line breaks the redraw). */
function clip(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    // eslint-disable-next-line no-control-regex
    const escape = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i));
    if (escape) {
      out += escape[0];
      i += escape[0].length - 1;
      continue;
    }
    if (visible >= width - 1) break;
    out += line[i];
    visible++;
  }
  return `${out}\x1b[0m`;
}
