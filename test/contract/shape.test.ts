import { describe, expect, it } from 'vitest';
import { compareShape, compareXmlError, parseXmlError } from './shape.js';

describe('compareShape: objects', () => {
  it('accepts the same keys and value types whatever the values', () => {
    expect(compareShape({ id: 'a', size: 1, ok: true, parent: null }, { id: 'zz', size: 99, ok: false, parent: null })).toEqual([]);
  });

  it('names a missing key, an added key and a changed type by their paths', () => {
    expect(compareShape({ data: { item_id: 'x', name: 'n' } }, { data: { name: 7, uri: 'drive://' } })).toEqual([
      '$.data.item_id: missing (the fixture has string)',
      '$.data.name: the fixture has string, the answer has number (7)',
      '$.data.uri: not in the fixture (the answer has string)',
    ]);
  });

  it('tells null from a string', () => {
    expect(compareShape({ parent: 'abc' }, { parent: null })).toEqual(['$.parent: the fixture has string, the answer has null (null)']);
  });

  it('holds the keys of LITERAL_KEYS to the values the fixture has', () => {
    expect(compareShape({ success: true, type: 'directory' }, { success: true, type: 'folder' })).toEqual([
      '$.type: the fixture has "directory", the answer has "folder"',
    ]);
  });
});

describe('compareShape: arrays are compared by the merged shape of their elements', () => {
  const listing = {
    items: [
      { id: 'f', type: 'directory', size: 0, parent: 'p' },
      { id: 'a', type: 'file', size: 1, etag: 'e', parent: null },
    ],
  };

  it('a key some elements have is optional, one all have is required, a type any element has is allowed', () => {
    expect(compareShape(listing, { items: [{ id: 'x', type: 'file', size: 3, parent: null }, { id: 'y', type: 'directory', size: 0, etag: 'e', parent: 'q' }] })).toEqual(
      [],
    );
    expect(compareShape(listing, { items: [{ type: 'file', size: 3, parent: 1 }] })).toEqual([
      '$.items[0].id: missing (the fixture has string)',
      '$.items[0].parent: the fixture has null or string, the answer has number (1)',
    ]);
  });

  it('a key no element has is reported at the element that has it', () => {
    expect(compareShape(listing, { items: [listing.items[0], { ...listing.items[1], x_attrs: {} }] })).toEqual([
      '$.items[1].x_attrs: not in the fixture (the answer has object)',
    ]);
  });

  it('a literal may be any value the elements show', () => {
    expect(compareShape(listing, { items: [{ id: 'x', type: 'folder', size: 0, parent: null }] })).toEqual([
      '$.items[0].type: the fixture has "directory", "file", the answer has "folder"',
    ]);
  });

  it('an empty fixture array says nothing about the elements; an empty answer fits any array', () => {
    expect(compareShape({ children: [] }, { children: [{ any: 1 }] })).toEqual([]);
    expect(compareShape(listing, { items: [] })).toEqual([]);
  });
});

describe('S3 XML errors', () => {
  const fixture =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>A</RequestId></Error>';

  it('reads a flat error document', () => {
    expect(parseXmlError(fixture)).toEqual({ root: 'Error', children: [['Code', 'AccessDenied'], ['Message', 'Request has expired'], ['RequestId', 'A']] });
    expect(parseXmlError('{"error":"x"}')).toBeUndefined();
    expect(parseXmlError('<Error><Code>A</Code>text</Error>')).toBeUndefined();
  });

  it('asks for every element of the fixture, Code and Message word for word; other elements may be added', () => {
    expect(compareXmlError(fixture, '<Error><Code>AccessDenied</Code><Message>Request has expired</Message><Extra>1</Extra><RequestId>B</RequestId></Error>')).toEqual([]);
    expect(compareXmlError(fixture, '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>')).toEqual([
      '/Error/Message: the fixture says "Request has expired", the answer "Access Denied"',
      '/Error/RequestId: missing',
    ]);
    expect(compareXmlError(fixture, 'Forbidden')).toEqual(['/: the answer is not a flat XML error document: Forbidden']);
  });
});
