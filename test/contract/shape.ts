// The shape of a JSON answer, and where another answer departs from it: what the contract test
// uses to say that the sandbox answers like the recorded bodies in fixtures/.
//
// - Objects: the same keys (none missing, none added), each value of the same type, recursively.
// - Arrays: every element has the ELEMENT SHAPE of the fixture's array, which is the merge of its
//   elements: a key present in every element is required, a key present in some is optional, and a
//   value may have any of the types its elements show (a `parent` that is a string in one element
//   and null in another may be either). An empty fixture array says nothing about its elements.
// - Values: only their type (string, number, boolean, null, object, array), except at the keys in
//   LITERAL_KEYS, where the value must be one the fixture has at that place (`type` is "directory"
//   in a MemoryLake listing and "folder" in Copera's; `success` is true or false, never "yes").
// Every mismatch names its path: `$.data.items[3].x_attrs: …`.

export type Kind = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean';

/** Keys whose values are part of the contract, not only their type. */
export const LITERAL_KEYS: ReadonlySet<string> = new Set(['type', 'success', 'item_type']);

export interface Shape {
  kinds: Set<Kind>;
  /** Object keys, with whether every sample had them. */
  props?: Map<string, { shape: Shape; required: boolean }>;
  /** The element shape of an array; undefined when every sample array was empty. */
  items?: Shape;
  /** Values seen, for keys in LITERAL_KEYS. */
  literals?: Set<unknown>;
}

export function kindOf(v: unknown): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'object') return t;
  throw new TypeError(`not a JSON value: ${String(v)}`);
}

/** The shape of one JSON value; `key` is the key it sits under (for LITERAL_KEYS). */
export function shapeOf(v: unknown, key?: string): Shape {
  const kind = kindOf(v);
  const shape: Shape = { kinds: new Set([kind]) };
  if (key !== undefined && LITERAL_KEYS.has(key) && kind !== 'object' && kind !== 'array') shape.literals = new Set([v]);
  if (kind === 'object') {
    shape.props = new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, { shape: shapeOf(x, k), required: true }]));
  } else if (kind === 'array') {
    const arr = v as unknown[];
    shape.items = arr.length === 0 ? undefined : arr.map((x) => shapeOf(x, key)).reduce(merge);
  }
  return shape;
}

/** The shape that admits what either admits (see the header for required and optional keys). */
export function merge(a: Shape, b: Shape): Shape {
  const out: Shape = { kinds: new Set([...a.kinds, ...b.kinds]) };
  if (a.literals || b.literals) out.literals = new Set([...(a.literals ?? []), ...(b.literals ?? [])]);
  if (a.props || b.props) {
    const props = new Map<string, { shape: Shape; required: boolean }>();
    // A side that is not an object at all (null) does not make an object's keys optional.
    const aObj = a.props !== undefined;
    const bObj = b.props !== undefined;
    for (const k of new Set([...(a.props?.keys() ?? []), ...(b.props?.keys() ?? [])])) {
      const pa = a.props?.get(k);
      const pb = b.props?.get(k);
      const shape = pa && pb ? merge(pa.shape, pb.shape) : (pa ?? pb)!.shape;
      const required = (pa ? pa.required : !aObj) && (pb ? pb.required : !bObj);
      props.set(k, { shape, required });
    }
    out.props = props;
  }
  if (a.items || b.items) out.items = a.items && b.items ? merge(a.items, b.items) : (a.items ?? b.items);
  return out;
}

function describe(kinds: Set<Kind>): string {
  return [...kinds].sort().join(' or ');
}

/** Where `actual` departs from `shape`: one line per place, each naming its path. Empty: it fits. */
export function mismatches(shape: Shape, actual: unknown, path = '$'): string[] {
  const out: string[] = [];
  walk(shape, actual, path, out);
  return out;
}

function walk(shape: Shape, actual: unknown, path: string, out: string[]): void {
  let kind: Kind;
  try {
    kind = kindOf(actual);
  } catch {
    out.push(`${path}: ${String(actual)} is not a JSON value`);
    return;
  }
  if (!shape.kinds.has(kind)) {
    out.push(`${path}: the fixture has ${describe(shape.kinds)}, the answer has ${kind} (${JSON.stringify(actual)?.slice(0, 60)})`);
    return;
  }
  if (shape.literals && kind !== 'object' && kind !== 'array' && !shape.literals.has(actual)) {
    const seen = [...shape.literals].map((v) => JSON.stringify(v)).join(', ');
    out.push(`${path}: the fixture has ${seen}, the answer has ${JSON.stringify(actual)}`);
  }
  if (kind === 'object' && shape.props) {
    const obj = actual as Record<string, unknown>;
    for (const [k, p] of shape.props) {
      if (!(k in obj)) {
        if (p.required) out.push(`${path}.${k}: missing (the fixture has ${describe(p.shape.kinds)})`);
      } else walk(p.shape, obj[k], `${path}.${k}`, out);
    }
    for (const k of Object.keys(obj)) {
      if (!shape.props.has(k)) out.push(`${path}.${k}: not in the fixture (the answer has ${kindOf(obj[k])})`);
    }
  } else if (kind === 'array' && shape.items) {
    (actual as unknown[]).forEach((x, i) => walk(shape.items!, x, `${path}[${i}]`, out));
  }
}

/** Where `actual` departs from the shape of `fixture`. */
export function compareShape(fixture: unknown, actual: unknown): string[] {
  return mismatches(shapeOf(fixture), actual);
}

/** An S3 error body: the root element's name and its children's names and texts, in order. */
export interface XmlError {
  root: string;
  children: Array<[string, string]>;
}

/** Reads a flat S3 error document (`<?xml …?><Error><Code>…</Code>…</Error>`). */
export function parseXmlError(text: string): XmlError | undefined {
  const body = text.replace(/^\s*<\?xml[^>]*\?>\s*/, '').trim();
  const m = /^<([A-Za-z][\w.-]*)>([\s\S]*)<\/\1>$/.exec(body);
  if (!m) return undefined;
  const children: Array<[string, string]> = [];
  const inner = m[2]!;
  const re = /<([A-Za-z][\w.-]*)>([^<]*)<\/\1>/g;
  let consumed = 0;
  for (let c = re.exec(inner); c; c = re.exec(inner)) {
    if (inner.slice(consumed, c.index).trim() !== '') return undefined;
    children.push([c[1]!, c[2]!]);
    consumed = c.index + c[0].length;
  }
  if (inner.slice(consumed).trim() !== '') return undefined;
  return { root: m[1]!, children };
}

/**
 * Where an S3 error body departs from a recorded one. S3 documents its error bodies as open (some
 * errors add elements of their own), so: the same root element; every element of the fixture
 * present; and Code and Message word for word, since those are what a client acts on (403
 * AccessDenied "Request has expired" means the URL expired, any other 403 does not).
 */
export function compareXmlError(fixtureText: string, actualText: string): string[] {
  const f = parseXmlError(fixtureText);
  if (!f) throw new Error('the fixture is not a flat XML error document');
  const a = parseXmlError(actualText);
  if (!a) return [`/: the answer is not a flat XML error document: ${actualText.slice(0, 120)}`];
  const out: string[] = [];
  if (a.root !== f.root) out.push(`/${a.root}: the fixture's root element is <${f.root}>`);
  const got = new Map(a.children);
  for (const [name, text] of f.children) {
    if (!got.has(name)) out.push(`/${f.root}/${name}: missing`);
    else if ((name === 'Code' || name === 'Message') && got.get(name) !== text) {
      out.push(`/${f.root}/${name}: the fixture says ${JSON.stringify(text)}, the answer ${JSON.stringify(got.get(name))}`);
    }
  }
  return out;
}
