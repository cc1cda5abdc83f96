// Text from elsewhere (a server's names and error messages, local file names) must not drive the
// terminal: an OSC 52 clipboard write, a screen clear or a cursor move in it would act when printed.
// Every control character is shown as \uXXXX (the same escape JSON uses, so a JSON line stays
// valid and says the same), except line feeds and tabs, and, when `keepSgr`, SGR colour sequences
// (ESC [ digits;… m), which are lakeup's own chalk colours and can only change how text looks.

// C0 controls but \t and \n, DEL, C1 controls, and the bidirectional overrides that reorder text.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const SGR_OR_CONTROL = /\u001b\[[0-9;]*m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function printable(text: string, keepSgr = false): string {
  if (!keepSgr) return text.replace(CONTROL, escape);
  return text.replace(SGR_OR_CONTROL, (m) => (m.length > 1 ? m : escape(m)));
}
