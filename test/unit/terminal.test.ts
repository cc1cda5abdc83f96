import { describe, expect, it } from 'vitest';
import { colorLevelFrom, detectTerminal } from '../../src/ui/terminal.js';

describe('colorLevelFrom', () => {
  it.each([
    ['a terminal', {}, true, 1],
    ['not a terminal', {}, false, 0],
    ['a 256-colour terminal', { TERM: 'xterm-256color' }, true, 2],
    ['a truecolor terminal', { COLORTERM: 'truecolor' }, true, 3],
    ['TERM=dumb', { TERM: 'dumb' }, true, 0],
    ['NO_COLOR=1 on a terminal', { NO_COLOR: '1' }, true, 0],
    ['NO_COLOR wins over FORCE_COLOR', { NO_COLOR: 'yes', FORCE_COLOR: '3' }, true, 0],
    ['an empty NO_COLOR is ignored', { NO_COLOR: '' }, true, 1],
    ['FORCE_COLOR=0 on a terminal', { FORCE_COLOR: '0' }, true, 0],
    ['FORCE_COLOR=1 off a terminal', { FORCE_COLOR: '1' }, false, 1],
    ['FORCE_COLOR=2 off a terminal', { FORCE_COLOR: '2' }, false, 2],
    ['FORCE_COLOR=3 off a terminal', { FORCE_COLOR: '3' }, false, 3],
    ['FORCE_COLOR empty', { FORCE_COLOR: '' }, false, 1],
    ['FORCE_COLOR=true', { FORCE_COLOR: 'true' }, false, 1],
    ['FORCE_COLOR=false on a terminal', { FORCE_COLOR: 'false' }, true, 0],
    ['FORCE_COLOR nonsense', { FORCE_COLOR: 'lots' }, false, 1],
    ['FORCE_COLOR=1 with TERM=dumb', { FORCE_COLOR: '1', TERM: 'dumb' }, false, 1],
  ] as Array<[string, NodeJS.ProcessEnv, boolean, number]>)('%s → level %d', (_n, env, tty, level) => {
    expect(colorLevelFrom(env, tty)).toBe(level);
  });
});

function fakeStream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream & { chunks: string[] };
}

describe('detectTerminal', () => {
  it('decides once from stderr whether there is colour, and writes humans to stderr, results to stdout', () => {
    const out = fakeStream(false);
    const err = fakeStream(true, 120);
    const t = detectTerminal({}, out, err);
    expect(t.stdoutIsTTY).toBe(false);
    expect(t.stderrIsTTY).toBe(true);
    expect(t.columns).toBe(120);
    expect(t.colorLevel).toBe(1);
    t.err('hello');
    t.out('{"ok":true}');
    expect(err.chunks).toEqual(['hello\n']);
    expect(out.chunks).toEqual(['{"ok":true}\n']);
  });

  it('has no colour codes when NO_COLOR is set', () => {
    const t = detectTerminal({ NO_COLOR: '1' }, fakeStream(true), fakeStream(true));
    expect(t.colorLevel).toBe(0);
    expect(t.chalk.green('x')).toBe('x');
  });

  it('colours when forced, even off a terminal', () => {
    const t = detectTerminal({ FORCE_COLOR: '1' }, fakeStream(false), fakeStream(false));
    expect(t.chalk.green('x')).not.toBe('x');
  });

  it('assumes 80 columns when stderr does not say', () => {
    expect(detectTerminal({}, fakeStream(false), fakeStream(false)).columns).toBe(80);
  });
});
