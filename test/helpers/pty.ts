// Runs the built CLI on a real pseudo-terminal (util-linux `script`) and reads what a person would
// see there: `screen()` replays the cursor moves and erases a live bar makes, so a line the bar
// drew over is gone and a line written above it stays, exactly once.
import { spawn, spawnSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { BIN, ROOT, baseEnv } from './cli.js';

export const hasScript = process.platform !== 'win32' && spawnSync('script', ['--version']).status === 0;

export interface PtyRun {
  /** Everything written to the terminal so far (stdout and stderr, escape codes and all). */
  raw(): string;
  /** Types `keys` at the terminal (`\x03` is Ctrl-C: the terminal sends the CLI SIGINT). */
  type(keys: string): void;
  /** Resolves with the exit code once the CLI is done. */
  result: Promise<{ code: number | null; raw: string }>;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `lakeup <args>` under `script -qfec` (stdout and stderr both the terminal). `stdinFrom` is a
 * shell command whose output is piped to the CLI's standard input.
 */
export function runInPty(args: string[], o: { env: Record<string, string>; stdinFrom?: string; cwd?: string }): PtyRun {
  const cli = [process.execPath, BIN, ...args].map(q).join(' ');
  const cmd = o.stdinFrom ? `${o.stdinFrom} | ${cli}` : cli;
  // Async: the sandbox of a test lives in the test's process, so its event loop must keep running.
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    cwd: o.cwd ?? ROOT,
    env: baseEnv({ ...o.env, TERM: 'xterm-256color', COLUMNS: '120', SHELL: '/bin/sh' }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  child.stdout.on('data', (d) => (raw += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const result = new Promise<{ code: number | null; raw: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, raw });
    }),
  );
  return { raw: () => raw, type: (keys) => void child.stdin.write(keys), result };
}

/** The lines a terminal shows (scrollback included) after `raw` was written to it, without colour. */
export function screen(raw: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (text: string) => {
    const line = lines[row].padEnd(col);
    lines[row] = line.slice(0, col) + text + line.slice(col + text.length);
    col += text.length;
  };
  // CSI sequences (cursor moves, erases, modes, colours), or a run of plain text, or \r, or \n.
  const token = /\x1b\[([?\d;]*)([A-Za-z])|\x1b[78]|\r|\n|[^\x1b\r\n]+/g;
  for (const m of raw.matchAll(token)) {
    const [all, params, cmd] = m;
    const n = Number(params) || 1;
    if (all === '\r') col = 0;
    else if (all === '\n') {
      row++;
      if (row === lines.length) lines.push('');
    } else if (cmd === 'A') row = Math.max(0, row - n);
    else if (cmd === 'B') row = Math.min(lines.length - 1, row + n);
    else if (cmd === 'G') col = n - 1;
    else if (cmd === 'C') col += n;
    else if (cmd === 'D') col = Math.max(0, col - n);
    else if (cmd === 'K') lines[row] = params === '2' ? '' : params === '1' ? ' '.repeat(col) + lines[row].slice(col) : lines[row].slice(0, col);
    else if (cmd === 'J') {
      lines[row] = lines[row].slice(0, col);
      lines.length = row + 1;
    } else if (cmd === undefined && !all.startsWith('\x1b')) put(stripVTControlCharacters(all));
  }
  return lines.map((l) => l.trimEnd()).filter((l, i, a) => l !== '' || i < a.length - 1);
}
