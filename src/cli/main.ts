// The CLI's entry (the bundle's, dist/lakeup.js). `lakeup --version` answers here, loading nothing
// else; every other command loads the commander program (program.ts), which loads each command's
// module only when it runs. Keep this module's imports to version.ts: each import is one more file
// that every start reads.
import { version } from './version.js';

/** Runs the CLI and resolves to the exit code; never calls process.exit itself except for a second Ctrl-C. */
export async function main(argv: string[]): Promise<number> {
  // What commander would print for it, without loading commander (a shell script's version check).
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const { runProgram } = await import('./program.js');
  return runProgram(argv);
}

/** The launcher's last-resort line (bin/lakeup.js) is redacted like every other line. */
export async function redactText(text: string): Promise<string> {
  return (await import('../util/redact.js')).redact(text);
}
