// --include/--exclude (filters.ts), --files-from's list (files-from.ts) and the summary's words for
// what a run left out (left-out.ts).
import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import { FileFilter, filterPath, type FilterRule } from '../../src/upload/filters.js';
import { parseFileList } from '../../src/upload/files-from.js';
import { leftOutPhrases } from '../../src/upload/left-out.js';

const ex = (glob: string): FilterRule => ({ kind: 'exclude', glob });
const inc = (glob: string): FilterRule => ({ kind: 'include', glob });

describe('FileFilter: the last matching rule decides', () => {
  it.each<[string, FilterRule[], Record<string, boolean>]>([
    ['no rules: everything is sent', [], { 'a.txt': true, '.git/HEAD': true }],
    ['a glob without a slash matches a name at any depth, dotfiles too', [ex('*.log')], { 'a.log': false, 'x/y/b.log': false, '.hidden.log': false, 'a.txt': true }],
    ['a glob with a slash matches from the named folder', [ex('build/**')], { 'build/a.o': false, 'src/build/a.o': true, 'build.txt': true }],
    ['a rule matching a parent folder leaves out what is in it', [ex('.git')], { '.git/HEAD': false, '.git/refs/heads/main': false, 'a/.git/x': false, '.gitignore': true }],
    ['an --include after an --exclude wins for what it matches', [ex('*.log'), inc('keep.log')], { 'a.log': false, 'keep.log': true, 'sub/keep.log': true, 'a.txt': true }],
    ['an --exclude after an --include wins for what it matches', [inc('*.txt'), ex('secret.txt')], { 'a.txt': true, 'secret.txt': false }],
    ['a first rule that is an --include sends only what is included', [inc('*.txt')], { 'a.txt': true, 'sub/b.txt': true, 'a.log': false }],
    ['--exclude everything, then include one folder', [ex('*'), inc('docs')], { 'docs/a.md': true, 'src/a.ts': false, 'a.md': false }],
    ['braces and classes are picomatch globs', [ex('*.{png,jpg}'), ex('tmp[0-9]')], { 'a.png': false, 'b.jpg': false, 'c.gif': true, 'tmp1/x': false, 'tmpx/x': true }],
    ['a leading ./ is dropped', [ex('./out/**')], { 'out/a': false, 'a': true }],
  ])('%s', (_name, rules, cases) => {
    const f = new FileFilter(rules);
    for (const [p, sent] of Object.entries(cases)) expect(f.sends(p), p).toBe(sent);
  });

  it('prunes a folder only when no later --include could send a file in it', () => {
    expect(new FileFilter([ex('node_modules')]).prunes('node_modules')).toBe(true);
    expect(new FileFilter([ex('node_modules')]).prunes('a/node_modules')).toBe(true);
    expect(new FileFilter([ex('node_modules'), inc('*.json')]).prunes('node_modules')).toBe(false);
    expect(new FileFilter([inc('*.txt'), ex('build')]).prunes('build')).toBe(true);
    expect(new FileFilter([inc('*.txt')]).prunes('src')).toBe(false); // a .txt file may be in it
    expect(new FileFilter([ex('*.log')]).prunes('logs')).toBe(false);
  });

  it.each(['', '/abs/*.log'])('refuses %j as a glob with one usage line', (glob) => {
    const e = (() => {
      try {
        new FileFilter([ex(glob)]);
      } catch (err) {
        return err as LakeupError;
      }
    })();
    expect(e).toBeInstanceOf(LakeupError);
    expect(e!.kind).toBe('usage');
    expect(e!.message).toMatch(/^--exclude: '.*' is not a glob relative to the folder named/);
  });

  it('filterPath: "/"-separated; a backslash separates on Windows only', () => {
    expect(filterPath('./a/b.txt', '/')).toBe('a/b.txt');
    expect(filterPath('a\\b.txt', '/')).toBe('a\\b.txt');
    expect(filterPath('.\\a\\b.txt', '\\')).toBe('a/b.txt');
  });
});

describe('--files-from lists', () => {
  it('one path a line: CRLF and blank lines are dropped, spaces kept', () => {
    expect(parseFileList('a.txt\r\n\nsub/b c.txt\n  \n')).toEqual(['a.txt', 'sub/b c.txt']);
  });

  it('NUL-separated (find -print0): newlines and leading spaces belong to the names', () => {
    expect(parseFileList('./a\nb.txt\0 c.txt\0')).toEqual(['./a\nb.txt', ' c.txt']);
  });
});

describe('the summary words for what was left out', () => {
  it.each<[Parameters<typeof leftOutPhrases>[0], string[]]>([
    [{}, []],
    [{ empty: 2, excluded: 2 }, ['2 skipped (empty)', '2 excluded']],
    [{ symlink: 1 }, ['1 skipped (symlink)']],
    [{ empty: 2, symlink: 1, loop: 1, special: 1 }, ['5 skipped (2 empty, 1 symlink, 1 link loop, 1 special file)']],
  ])('%j → %j', (counts, phrases) => {
    expect(leftOutPhrases(counts)).toEqual(phrases);
  });
});
