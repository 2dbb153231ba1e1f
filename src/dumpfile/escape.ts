/**
 * Escaping of composefs dumpfile fields (byte strings: one JS char per byte).
 * Rules as the C `composefs-info dump` writes them and `mkcomposefs
 * --from-file` reads them; see docs/composefs.md.
 */

/** Escape flags (bit set), mirroring the C dump writer's modes. */
export const ESCAPE_STANDARD = 0;
/** Keep spaces literal (only used for `ls` style output, not in dumpfiles). */
export const NOESCAPE_SPACE = 1 << 0;
/** Hex-escape `=` (xattr names and values). */
export const ESCAPE_EQUAL = 1 << 1;
/** Hex-escape a field that is exactly `-` (which would mean "empty"). */
export const ESCAPE_LONE_DASH = 1 << 2;

const HEX = '0123456789abcdef';

function hex2(c: number): string {
  return `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
}

/** Escapes a byte string for a dumpfile field. */
export function escapeField(s: string, flags: number = ESCAPE_STANDARD): string {
  if ((flags & ESCAPE_LONE_DASH) !== 0 && s === '-') return hex2(0x2d);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x5c: out += '\\\\'; continue;
      case 0x0a: out += '\\n'; continue;
      case 0x0d: out += '\\r'; continue;
      case 0x09: out += '\\t'; continue;
      case 0x3d: out += (flags & ESCAPE_EQUAL) !== 0 ? hex2(c) : '='; continue;
      default: {
        // C isprint/isgraph in the C locale: 0x20..0x7e / 0x21..0x7e.
        const literal = (flags & NOESCAPE_SPACE) !== 0 ? c >= 0x20 && c < 0x7f : c > 0x20 && c < 0x7f;
        out += literal ? String.fromCharCode(c) : hex2(c);
      }
    }
  }
  return out;
}

/** `-` for an absent value, else the escaped value. */
export function escapeOptional(s: string | undefined, flags: number): string {
  return s === undefined ? '-' : escapeField(s, flags);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Unescapes a dumpfile field: `{ value }` (a byte string) or `{ error }` saying what is wrong. */
export function unescapeField(s: string): { value: string } | { error: string } {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    if (i + 1 >= s.length) return { error: 'backslash at the end of a field (no character after escape)' };
    const e = s[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'x': {
        if (i + 2 >= s.length) return { error: 'fewer than two hex characters after \\x escape' };
        const a = hexDigit(s.charCodeAt(i + 1));
        const b = hexDigit(s.charCodeAt(i + 2));
        if (a < 0 || b < 0) return { error: `invalid hex characters after \\x escape in ${JSON.stringify(s.slice(i - 1, i + 3))}` };
        out += String.fromCharCode((a << 4) | b);
        i += 2;
        break;
      }
      default:
        return { error: `unsupported escape \\${e}` };
    }
  }
  return { value: out };
}
