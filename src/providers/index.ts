import type { ApiContext } from '../http/api.js';
import type { ProviderName } from '../types.js';
import { Copera, COPERA_ORIGIN } from './copera.js';
import { MemoryLake, MEMORYLAKE_ORIGIN } from './memorylake.js';
import type { Provider } from './provider.js';

export const DEFAULT_ENDPOINTS: Record<ProviderName, string> = {
  memorylake: MEMORYLAKE_ORIGIN,
  copera: COPERA_ORIGIN,
};

export function createProvider(name: ProviderName, ctx: Omit<ApiContext, 'service'>): Provider {
  return name === 'memorylake' ? new MemoryLake(ctx) : new Copera(ctx);
}

export type { CreateFolderOptions, DriveEntry, FolderListing, LookupOptions, PlanPreview, Provider, UploadRequest } from './provider.js';
export { isRenamedForm, matchesName } from './names.js';
