import { describe, expect, it } from 'vitest';
import { isRenamedForm, matchesName } from '../../src/providers/names.js';
import { renamed } from '../../src/sandbox/drive.js';

describe('isRenamedForm: the names a provider gives a taken name', () => {
  it.each([
    // provider, wanted, actual, expected
    ['memorylake', 'big.zip', 'big_1.zip', true],
    ['memorylake', 'big.zip', 'big_2.zip', true],
    ['memorylake', 'big.zip', 'big_12.zip', true],
    ['memorylake', 'big.zip', 'big.zip', false], // the name itself is not a renamed form
    ['memorylake', 'big.zip', 'big_0.zip', false],
    ['memorylake', 'big.zip', 'big_01.zip', false],
    ['memorylake', 'big.zip', 'big_.zip', false],
    ['memorylake', 'big.zip', 'big_1a.zip', false],
    ['memorylake', 'big.zip', 'big_1.zip.zip', false],
    ['memorylake', 'big.zip', 'big.zip_1', false],
    ['memorylake', 'big.zip', 'Big_1.zip', false], // names are compared exactly
    ['memorylake', 'big.zip', 'big (1).zip', false], // Copera's form
    ['memorylake', 'archive.tar.gz', 'archive.tar_1.gz', true], // the last dot
    ['memorylake', 'archive.tar.gz', 'archive_1.tar.gz', false],
    ['memorylake', '.env', '.env_1', true], // a leading dot is not an extension
    ['memorylake', '.env', '_1.env', false],
    ['memorylake', 'README', 'README_3', true], // no extension
    ['memorylake', 'README', 'README', false],
    ['memorylake', 'a.', 'a_1.', true], // a trailing dot is an empty extension
    ['memorylake', 'big_1.zip', 'big_1_1.zip', true],
    ['memorylake', 'big_1.zip', 'big_2.zip', false],
    ['copera', 'big.zip', 'big (1).zip', true],
    ['copera', 'big.zip', 'big (10).zip', true],
    ['copera', 'big.zip', 'big(1).zip', false],
    ['copera', 'big.zip', 'big (0).zip', false],
    ['copera', 'big.zip', 'big ().zip', false],
    ['copera', 'big.zip', 'big_1.zip', false], // MemoryLake's form
    ['copera', '.env', '.env (1)', true],
    ['copera', 'README', 'README (2)', true],
    ['copera', 'archive.tar.gz', 'archive.tar (1).gz', true],
    ['copera', 'report (1).pdf', 'report (1) (1).pdf', true],
  ] as const)('%s: %s → %s is %s', (provider, wanted, actual, expected) => {
    expect(isRenamedForm(provider, wanted, actual)).toBe(expected);
  });

  it.each(['big.zip', '.env', 'README', 'archive.tar.gz', 'a.', 'x.y.z', '..hidden', 'dir.d'])(
    "agrees with the sandbox's renamed() for %s",
    (name) => {
      for (const i of [1, 2, 9, 10, 123]) {
        expect(isRenamedForm('memorylake', name, renamed(name, i, 'underscore'))).toBe(true);
        expect(isRenamedForm('copera', name, renamed(name, i, 'paren'))).toBe(true);
        expect(isRenamedForm('memorylake', name, renamed(name, i, 'paren'))).toBe(false);
        expect(isRenamedForm('copera', name, renamed(name, i, 'underscore'))).toBe(false);
      }
    },
  );
});

describe('matchesName', () => {
  it('takes the name itself and its renamed forms, nothing else', () => {
    expect(matchesName('memorylake', 'big.zip', 'big.zip')).toBe(true);
    expect(matchesName('memorylake', 'big.zip', 'big_4.zip')).toBe(true);
    expect(matchesName('memorylake', 'big.zip', 'big.zipx')).toBe(false);
    expect(matchesName('copera', 'big.zip', 'big (4).zip')).toBe(true);
    expect(matchesName('copera', 'big.zip', 'other.zip')).toBe(false);
  });
});
