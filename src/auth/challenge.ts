/**
 * WWW-Authenticate parsing (RFC 7235 section 4.1 / 2.1, RFC 7230 section 3.2.6
 * for token and quoted-string) and token scopes (distribution token auth spec,
 * "scope" parameter). Pure.
 */

/** One challenge of a WWW-Authenticate header. */
export interface Challenge {
  /** Auth scheme, lowercased (`bearer`, `basic`, ...). */
  scheme: string;
  /** auth-params; names lowercased, quoted values unescaped. */
  params: Record<string, string>;
  /** The token68 form of credentials, when the challenge has one instead of params. */
  token68?: string;
}

/** tchar of RFC 7230 section 3.2.6. */
const TCHAR_RE = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** token68 characters of RFC 7235 section 2.1 (before the trailing '='s). */
const TOKEN68_RE = /[A-Za-z0-9\-._~+/]/;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR_RE.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  quoted(): string {
    // assumes peek() === '"'
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.s[this.pos++];
      if (c === '"') return out;
      if (c === '\\' && !this.done) out += this.s[this.pos++];
      else out += c;
    }
    return out; // unterminated: take what is there
  }
}

/** If a token68 starts at the scanner position and ends the challenge, consume and return it. */
function tryToken68(sc: Scanner): string | undefined {
  const start = sc.pos;
  let p = start;
  while (p < sc.s.length && TOKEN68_RE.test(sc.s[p])) p++;
  if (p === start) return undefined;
  while (sc.s[p] === '=') p++;
  let q = p;
  while (sc.s[q] === ' ' || sc.s[q] === '\t') q++;
  if (q < sc.s.length && sc.s[q] !== ',') return undefined;
  // `name=` followed by end/comma is a token68 with padding, not a param
  sc.pos = p;
  return sc.s.slice(start, p);
}

/**
 * Parse a WWW-Authenticate header value into its challenges: several per
 * header, quoted strings with backslash escapes, commas inside quoted values,
 * token68 credentials. Malformed trailing parts are skipped, never thrown on.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const sc = new Scanner(header);
  const out: Challenge[] = [];
  for (;;) {
    while (!sc.done && (sc.peek() === ',' || sc.peek() === ' ' || sc.peek() === '\t')) sc.pos++;
    if (sc.done) break;
    const scheme = sc.token();
    if (scheme === '') {
      sc.pos++; // skip a stray character
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    sc.skipOws();
    const t68 = tryToken68(sc);
    if (t68 !== undefined) {
      challenge.token68 = t68;
      continue;
    }
    // auth-params until a token that is not followed by '=' (the next scheme)
    for (;;) {
      while (!sc.done && (sc.peek() === ',' || sc.peek() === ' ' || sc.peek() === '\t')) sc.pos++;
      if (sc.done) break;
      const save = sc.pos;
      const name = sc.token();
      sc.skipOws();
      if (name === '' || sc.peek() !== '=') {
        sc.pos = save;
        if (name === '') sc.pos++; // stray character: skip it
        break;
      }
      sc.pos++; // '='
      sc.skipOws();
      const value = sc.peek() === '"' ? sc.quoted() : sc.token();
      const key = name.toLowerCase();
      if (!(key in challenge.params)) challenge.params[key] = value;
    }
  }
  return out;
}

/** A token scope for a repository (distribution token spec): `repository:NAME:pull[,push]`. */
export function scopeFor(repository: string, actions: readonly string[] = ['pull']): string {
  return `repository:${repository}:${actions.join(',')}`;
}
