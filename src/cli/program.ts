// The commander program: parses flags, hands them to the command modules, maps errors to exit
// codes. Loaded by main.ts for every command but `lakeup --version`; each command's module is
// imported only when the command runs.
import { Command, CommanderError, Option } from 'commander';
import { envSaysYes } from './options.js';
import { exitCodeOfCommander } from './report.js';
import { processWriters } from '../ui/streams.js';
import { redact } from '../util/redact.js';
import { version } from './version.js';

const io = processWriters();

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json') || envSaysYes(process.env, 'LAKEUP_JSON');
}

function commanderMessage(s: string): string {
  return redact(s.replace(/^error: /, '').replace(/\s*[\r\n]+\s*/g, ' ').trim());
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    done
  1    upload failed (network, server, integrity); state kept for resume
  2    usage or bad local input (unknown flag or provider, missing/empty/unreadable file, bad size)
  3    the API refused the token or permission (401/403)
  130  interrupted (Ctrl-C, SIGTERM); run the same command again to resume`;

const PUT_EXAMPLES = `
Examples:
  $ lakeup put ./big.zip --provider memorylake
  $ LAKEUP_TOKEN=cp_pat_… lakeup put report.pdf -p copera --parent 65f0c0ffee0000000000beef
  $ lakeup put a.bin b.bin --provider copera --jobs 2 --json
  $ lakeup put big.iso -p copera --part-size 64MiB --concurrency 8 --limit-rate 20MiB/s
  $ tar c dir | lakeup put - --name dir.tar -p memorylake
  $ lakeup put photos -r -p copera --exclude '*.tmp' --exclude .git
  $ find . -name '*.csv' -print0 | lakeup put --files-from - -p memorylake
${EXIT_CODES_HELP}`;

type FilterRule = { kind: 'include' | 'exclude'; glob: string };

/** --include / --exclude parsers that add to one list, in the order typed. */
function ruleInto(list: FilterRule[]) {
  return (kind: FilterRule['kind']) => (glob: string) => (list.push({ kind, glob }), list);
}

/** A repeatable flag's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command();
  program
    .name('lakeup')
    .description('Resumable, parallel, streamed multipart uploads to MemoryLake and Copera drives')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.rawOut(s),
      writeErr: (s) => io.rawErr(s),
      // Commander echoes what was typed (`--tokn=sk_…`): redact it like every other error line.
      outputError: (s, write) => write(`lakeup: error: ${commanderMessage(s)}\n`),
    })
    .addHelpText('after', EXIT_CODES_HELP);

  // --include and --exclude go into one list, in the order typed: the last rule that matches decides.
  const filters: FilterRule[] = [];
  const rule = ruleInto(filters);
  const put = program
    .command('put')
    .description('upload one or more files')
    .argument('[files...]', 'files to upload ("-" reads standard input)')
    .addOption(new Option('-p, --provider <name>', 'memorylake or copera (env: LAKEUP_PROVIDER)'))
    .option('--token <token>', 'API token (env: LAKEUP_TOKEN)')
    .option('--token-file <path>', 'read the token from a file (env: LAKEUP_TOKEN_FILE)')
    .addOption(new Option('--endpoint <url>', 'API origin (default: the provider\'s public origin) (env: LAKEUP_ENDPOINT)'))
    .addOption(new Option('--name <name>', 'name in the drive (default: the file\'s base name)').env('LAKEUP_NAME'))
    .addOption(new Option('--parent <id>', 'folder id: MemoryLake parent_item_id (default MY_SPACE), Copera parentId').env('LAKEUP_PARENT'))
    .addOption(new Option('--on-conflict <strategy>', 'MemoryLake: rename, deny, overwrite or replace (default rename)').env('LAKEUP_ON_CONFLICT'))
    .addOption(new Option('--part-size <size>', 'Copera part size, e.g. 10MiB, 64MB (default 10MiB, min 5MiB)').env('LAKEUP_PART_SIZE'))
    .addOption(new Option('--mime-type <type>', 'Copera MIME type (default: from the extension)').env('LAKEUP_MIME_TYPE'))
    .addOption(new Option('-c, --concurrency <n>', 'parts in flight: auto (finds the link\'s best, up to 64) or 1-64 to pin it (default auto)').env('LAKEUP_CONCURRENCY'))
    .addOption(new Option('-j, --jobs <n>', 'files uploaded at once, 1-64 (default 16)').env('LAKEUP_JOBS'))
    .addOption(new Option('-r, --recursive', 'upload folders, recreating their tree as drive folders (env: LAKEUP_RECURSIVE=1)'))
    .addOption(new Option('--skip-existing', 'skip a file when its folder in the drive has a file of that name and size, content not compared (env: LAKEUP_SKIP_EXISTING=1)'))
    .addOption(new Option('--again', 'send even files already uploaded or in the drive: a deliberate second copy (env: LAKEUP_AGAIN=1)'))
    .addOption(new Option('--checksum', 'compare content with the drive\'s copy wherever it can be, even when sizes and times agree (env: LAKEUP_CHECKSUM=1)'))
    .addOption(new Option('--exclude <glob>', 'leave out files matching the glob, relative to the folder named; repeatable (env: LAKEUP_EXCLUDE)').argParser(rule('exclude')))
    .addOption(new Option('--include <glob>', 'send files matching the glob; with --exclude the last match wins; repeatable (env: LAKEUP_INCLUDE)').argParser(rule('include')))
    .addOption(new Option('--files-from <file>', 'read the paths to send from a file, one a line or NUL-separated ("-": standard input)').env('LAKEUP_FILES_FROM'))
    .addOption(new Option('--no-follow-symlinks', 'leave out symbolic links inside folders, counted, instead of following them (env: LAKEUP_NO_FOLLOW_SYMLINKS=1)'))
    .addOption(new Option('--shard <K/N>', 'upload only shard K of N of the files (split a run across CI jobs)').env('LAKEUP_SHARD'))
    .addOption(new Option('--retries <n>', 'retries per part (default 8)').env('LAKEUP_RETRIES'))
    .addOption(new Option('--timeout <seconds>', 'abort and retry a part that moves no byte for this long (default 60)').env('LAKEUP_TIMEOUT'))
    .addOption(new Option('--no-verify', 'do not compare part ETags with the MD5 computed while sending (env: LAKEUP_NO_VERIFY=1)'))
    .addOption(new Option('--no-resume', 'start over even if an interrupted upload of this file exists (env: LAKEUP_NO_RESUME=1)'))
    .addOption(new Option('--state-dir <dir>', 'where resumable state is kept (env: LAKEUP_STATE_DIR)'))
    .addOption(new Option('--limit-rate <rate>', 'total upload bandwidth, e.g. 8MiB/s').env('LAKEUP_LIMIT_RATE'))
    .addOption(new Option('--dry-run', 'print the plan and make no API call (env: LAKEUP_DRY_RUN=1)'))
    .addOption(new Option('--json', 'print one JSON line per file on stdout (env: LAKEUP_JSON=1)'))
    .addOption(new Option('--manifest <file>', 'write every file\'s outcome as NDJSON to this file (<file>.partial until the run ends)').env('LAKEUP_MANIFEST'))
    .addOption(new Option('-q, --quiet', 'no progress output (env: LAKEUP_QUIET=1)'))
    .addOption(new Option('--progress <mode>', 'auto, bar, plain, json or none (env: LAKEUP_PROGRESS)'))
    .addOption(new Option('--progress-interval <duration>', 'how often plain/json progress lines are printed (default 5s plain, 1s json)').env('LAKEUP_PROGRESS_INTERVAL'))
    .addOption(new Option('-v, --verbose', 'log each API call and part attempt, secrets redacted (env: LAKEUP_VERBOSE=1)'))
    .addHelpText('after', PUT_EXAMPLES)
    .action(async (files: string[], opts) => {
      const { runPut } = await import('./put-command.js');
      const { exclude: _e, include: _i, ...flags } = opts;
      setCode(await runPut(files, { ...flags, filters: filters.length ? filters : undefined }));
    });
  void put;

  const checkFilters: FilterRule[] = [];
  const checkRule = ruleInto(checkFilters);
  program
    .command('check')
    .description('compare local files with the drive: exit 0 when every one is there and the same, 1 when not')
    .argument('<paths...>', 'files and folders, as given to put')
    .addOption(new Option('-p, --provider <name>', 'memorylake or copera (env: LAKEUP_PROVIDER)'))
    .option('--token <token>', 'API token (env: LAKEUP_TOKEN)')
    .option('--token-file <path>', 'read the token from a file (env: LAKEUP_TOKEN_FILE)')
    .addOption(new Option('--endpoint <url>', 'API origin (env: LAKEUP_ENDPOINT)'))
    .addOption(new Option('--parent <id>', 'the folder put uploaded into').env('LAKEUP_PARENT'))
    .addOption(new Option('-r, --recursive', 'check folders, as put -r sent them (env: LAKEUP_RECURSIVE=1)'))
    .addOption(new Option('--exclude <glob>', 'as put: files left out are not checked; repeatable').argParser(checkRule('exclude')))
    .addOption(new Option('--include <glob>', 'as put; repeatable').argParser(checkRule('include')))
    .addOption(new Option('--no-follow-symlinks', 'as put'))
    .option('--json', 'print one JSON line per file on stdout')
    .option('-v, --verbose', 'more detail on failures')
    .addHelpText('after', '\nExamples:\n  $ lakeup check dist -r -p copera\n  $ lakeup check a.bin b.bin -p memorylake --json')
    .action(async (paths: string[], opts) => {
      const { runCheck } = await import('./check-command.js');
      const { exclude: _e, include: _i, ...flags } = opts;
      setCode(await runCheck(paths, { ...flags, filters: checkFilters.length ? checkFilters : undefined }));
    });

  program
    .command('list')
    .description('list interrupted uploads that can be resumed')
    .addOption(new Option('--state-dir <dir>', 'state folder (env: LAKEUP_STATE_DIR)'))
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { runList } = await import('./state-commands.js');
      setCode(await runList(opts));
    });

  program
    .command('resume')
    .description('resume interrupted uploads: those started from this folder, one by id from `lakeup list`, or --all')
    .argument('[id]', 'upload id (a unique prefix is enough); none: the uploads and runs started from this folder')
    .option('--all', 'resume every pending upload')
    .addOption(new Option('--state-dir <dir>', 'state folder (env: LAKEUP_STATE_DIR)'))
    .option('--token <token>', 'API token (env: LAKEUP_TOKEN)')
    .option('--token-file <path>', 'read the token from a file')
    .addOption(new Option('-c, --concurrency <n>', 'parts in flight: auto or 1-64 (default auto)').env('LAKEUP_CONCURRENCY'))
    .addOption(new Option('-j, --jobs <n>', 'files of a run uploaded at once (default 16)').env('LAKEUP_JOBS'))
    .addOption(new Option('--limit-rate <rate>', 'total upload bandwidth, e.g. 8MiB/s').env('LAKEUP_LIMIT_RATE'))
    .addOption(new Option('--progress-interval <duration>', 'how often plain/json progress lines are printed').env('LAKEUP_PROGRESS_INTERVAL'))
    .addOption(new Option('--retries <n>', 'retries per part (default 8)').env('LAKEUP_RETRIES'))
    .addOption(new Option('--timeout <seconds>', 'stall timeout (default 60)').env('LAKEUP_TIMEOUT'))
    .option('--no-verify', 'do not compare ETags with MD5')
    .option('--json', 'print one JSON line per file on stdout')
    .option('-q, --quiet', 'no progress output')
    .addOption(new Option('--progress <mode>', 'auto, bar, plain, json or none'))
    .option('-v, --verbose', 'log each API call and part attempt')
    .addHelpText('after', '\nExamples:\n  $ lakeup resume\n  $ lakeup list\n  $ lakeup resume 3f2a9c\n  $ lakeup resume --all --json')
    .action(async (id: string | undefined, opts) => {
      const { runResume } = await import('./state-commands.js');
      setCode(await runResume(id, opts));
    });

  program
    .command('abort')
    .description('forget interrupted uploads (by id, or --all)')
    .argument('[id]', 'upload id (a unique prefix is enough)')
    .option('--all', 'forget every pending upload')
    .addOption(new Option('--state-dir <dir>', 'state folder (env: LAKEUP_STATE_DIR)'))
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  $ lakeup abort 3f2a9c\n  $ lakeup abort --all')
    .action(async (id: string | undefined, opts) => {
      const { runAbort } = await import('./state-commands.js');
      setCode(await runAbort(id, opts));
    });

  program
    .command('sandbox')
    .description('run a local server that speaks both providers\' APIs (for tests, demos, benchmarks)')
    .option('--port <port>', 'port (0 = any free port)', '8787')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--dir <folder>', 'where finished files are written, in <folder>/memorylake and <folder>/copera (default: a temp folder, removed on exit)')
    .option('--token <token>', 'the API token it accepts', 'lakeup-sandbox')
    .option('--also-token <token>', 'another token of the same account, e.g. a rotated one (repeatable)', collect, [])
    .option('--other-account-token <token>', 'the token of another account, with drives of its own (repeatable: one account each)', collect, [])
    .option('--url-ttl <duration>', 'presigned URL lifetime, e.g. 30s, 1h', '1h')
    .option('--part-size <size>', 'MemoryLake part size it hands out (default: 5 MiB, 10 MiB from 1 GiB)')
    .option('--sink', 'count and discard part bodies without hashing (benchmarks): no files are written')
    .option('--fail-rate <p>', 'share of part PUTs answered 500/502/503/504', '0')
    .option('--reset-rate <p>', 'share of part PUTs whose connection is reset mid-body', '0')
    .option('--throttle-rate <p>', 'share of requests answered 503 SlowDown / 429 with Retry-After', '0')
    .option('--corrupt-rate <p>', 'share of part PUTs answered with a wrong ETag', '0')
    .option('--stall-rate <p>', 'share of part PUTs that are never answered', '0')
    .option('--latency <duration>', 'a distant link: delay every byte this long each way, e.g. 20ms', '0ms')
    .option('--conn-rate <rate>', 'a distant link: carry each connection at most this fast each way, e.g. 16MiB/s')
    .option('--api-rate <calls/s>', 'account-wide API rate limit shared by both providers (0 = unlimited); 429 + Retry-After past it', '0')
    .option('--seed <n>', 'seed for the fault dice (repeatable runs)')
    .option('-v, --verbose', 'log every request')
    .addHelpText('after', '\nExamples:\n  $ lakeup sandbox\n  $ lakeup sandbox --port 0 --fail-rate 0.1 --reset-rate 0.1 --url-ttl 30s\n  $ lakeup sandbox --api-rate 10')
    .action(async (opts) => {
      const { runSandbox } = await import('./sandbox-command.js');
      setCode(await runSandbox(opts));
    });

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  $ lakeup completion bash >> ~/.bashrc\n  $ lakeup completion zsh > "${fpath[1]}/_lakeup"')
    .action(async (shell: string) => {
      const { runCompletion } = await import('./completion.js');
      setCode(runCompletion(shell, program));
    });

  return program;
}

/** Runs the CLI (main.ts, for every command but --version) and resolves to the exit code. */
export async function runProgram(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      const exitCode = exitCodeOfCommander(e);
      // Its line is already on stderr; --json still promises the failure line on stdout.
      if (exitCode !== 0 && wantsJson(argv)) {
        io.out(JSON.stringify({ ok: false, error: { kind: 'usage', message: commanderMessage(e.message) } }));
      }
      return exitCode;
    }
    const { reportError } = await import('./report.js');
    return reportError(e, { json: wantsJson(argv), verbose: argv.includes('--verbose'), err: io.err, out: io.out });
  }
  return code;
}
