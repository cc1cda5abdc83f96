// The names a provider gives a file or folder when the one asked for is taken (conflict strategy
// "rename"): MemoryLake `big.zip` → `big_1.zip`, `big_2.zip`…; Copera `big.zip` → `big (1).zip`…
// The extension is what follows the last dot, unless that dot leads the name: `.env` → `.env_1`,
// `archive.tar.gz` → `archive.tar_1.gz`, `README` → `README_1`. The sandbox's renamed() makes
// the same names; docs/providers.md describes both forms.
import type { ProviderName } from '../types.js';

const COUNTER: Record<ProviderName, RegExp> = {
  memorylake: /^_[1-9]\d*$/,
  copera: /^ \([1-9]\d*\)$/,
};

/** Whether `actual` is one of the names `provider` gives `wanted` when renaming (never `wanted` itself). */
export function isRenamedForm(provider: ProviderName, wanted: string, actual: string): boolean {
  const dot = wanted.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [wanted.slice(0, dot), wanted.slice(dot)] : [wanted, ''];
  if (actual.length <= base.length + ext.length || !actual.startsWith(base) || !actual.endsWith(ext)) return false;
  return COUNTER[provider].test(actual.slice(base.length, actual.length - ext.length));
}

/** Whether an item named `actual` may be the one asked for as `wanted`: the name itself or a renamed form. */
export function matchesName(provider: ProviderName, wanted: string, actual: string): boolean {
  return actual === wanted || isRenamedForm(provider, wanted, actual);
}
