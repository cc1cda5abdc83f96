import mime from 'mime-types';

/** The MIME type of a file from its extension; application/octet-stream when unknown. */
export function lookupMimeType(file: string): string {
  return mime.lookup(file) || 'application/octet-stream';
}
