/**
 * Bash's `${var@Q}` quoting (bash 5.x, lib/sh/shquote.c `sh_quote_reusable`
 * and lib/sh/strtrans.c `ansic_quote`), as `enroot import` uses it to write
 * the entrypoint and command into /etc/rc. Strings are JS (UTF-16) strings;
 * their UTF-8 bytes are quoted, as bash does in a UTF-8 locale:
 *  - ""                                  → ''
 *  - only printable characters           → '...' with ' written '\''
 *  - anything else                       → $'...' with \a \b \E \f \n \r \t
 *    \v \\ \' escapes, printable characters kept, other bytes as \ooo.
 * "Printable" approximates glibc's iswprint in C.UTF-8: everything except C0
 * and C1 controls, DEL and U+2028/U+2029 (checked against bash in tests).
 */

const ANSIC_ESCAPES: Record<number, string> = { 0x07: '\\a', 0x08: '\\b', 0x1b: '\\E', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x0b: '\\v', 0x5c: '\\\\', 0x27: "\\'" };

function printable(cp: number): boolean {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return false;
  if (cp === 0x2028 || cp === 0x2029) return false;
  return true;
}

/** Code points of `s` with lone surrogates marked invalid (-1). */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    out.push(cp >= 0xd800 && cp <= 0xdfff ? -1 : cp);
  }
  return out;
}

function octal(bytes: Uint8Array): string {
  let o = '';
  for (const b of bytes) o += '\\' + b.toString(8).padStart(3, '0');
  return o;
}

/** `${s@Q}` of bash. */
export function bashQuote(s: string): string {
  if (s === '') return "''";
  const cps = codePoints(s);
  if (cps.every((cp) => cp >= 0 && printable(cp))) return "'" + s.replace(/'/g, "'\\''") + "'";
  let out = "$'";
  for (const cp of cps) {
    if (cp >= 0 && cp < 0x80 && ANSIC_ESCAPES[cp] !== undefined) out += ANSIC_ESCAPES[cp];
    else if (cp >= 0 && printable(cp)) out += String.fromCodePoint(cp);
    else out += octal(Buffer.from(cp >= 0 ? String.fromCodePoint(cp) : '\ufffd', 'utf8'));
  }
  return out + "'";
}
