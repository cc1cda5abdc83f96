// The names of the provider API routes, as stats, scripts and holds know them.
import type { ApiRoute } from './types.js';

export const API_ROUTES: readonly ApiRoute[] = [
  'memorylake.create',
  'memorylake.item',
  'memorylake.children',
  'memorylake.get',
  'copera.start',
  'copera.presign',
  'copera.finalize',
  'copera.folder',
  'copera.tree',
  'copera.get',
  'copera.search',
];
