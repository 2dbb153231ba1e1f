/**
 * netrc parsing, as enroot reads `$ENROOT_CONFIG_PATH/.credentials`
 * (`machine HOST login USER password PASS`). Pure.
 */

/** One `machine` entry. `default` entries are dropped: they would send a password to every registry. */
export interface NetrcEntry {
  machine: string;
  login?: string;
  password?: string;
  /**
   * enroot's evaluated password: on a one-line `machine M login L password $…`
   * entry, the rest of the line from the `$`, to be run as `echo REST` by
   * /bin/sh (enroot common.sh `common::evalnetrc`). Set instead of `password`.
   */
  passwordCommand?: string;
}

/** `machine M login L password $…` on one line: enroot evaluates the rest of such a line. */
const EVAL_LINE_RE = /^\s*machine\s+(\S+)\s+login\s+(\S+)\s+password\s+(\$.*?)\s*$/;

/** Split netrc text into tokens: whitespace separated, `"…"` quoted with backslash escapes, `#` comments. */
export function netrcTokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '"') {
      i++;
      let tok = '';
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) {
          const e = text[i + 1];
          tok += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
        } else tok += text[i++];
      }
      i++;
      out.push(tok);
    } else {
      const start = i;
      while (i < n && !' \t\n\r'.includes(text[i])) i++;
      out.push(text.slice(start, i));
    }
  }
  return out;
}

/** Parse netrc text into its `machine` entries, in file order. `macdef` bodies are skipped. */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  // macdef bodies run to the next blank line: cut them out before tokenising
  const lines = text.split('\n');
  const kept: string[] = [];
  const evaluated = new Map<number, NetrcEntry>();
  for (let i = 0; i < lines.length; i++) {
    const ev = EVAL_LINE_RE.exec(lines[i]);
    if (ev) {
      // stands for itself: replaced by a placeholder machine token so file order is kept
      evaluated.set(evaluated.size, { machine: ev[1], login: ev[2], passwordCommand: ev[3] });
      kept.push(`machine \u0000eval${evaluated.size - 1}`);
      continue;
    }
    kept.push(lines[i]);
    if (/(^|\s)macdef(\s|$)/.test(lines[i])) {
      while (i + 1 < lines.length && lines[i + 1].trim() !== '') i++;
    }
  }
  const toks = netrcTokens(kept.join('\n'));
  let cur: NetrcEntry | undefined;
  let inDefault = false;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t === 'machine') {
      const name = toks[++i] ?? '';
      const ev = name.startsWith('\u0000eval') ? evaluated.get(Number(name.slice(5))) : undefined;
      cur = ev ?? { machine: name };
      entries.push(cur);
      if (ev) cur = undefined; // nothing more belongs to an evaluated line
      inDefault = false;
    } else if (t === 'default') {
      cur = undefined;
      inDefault = true;
    } else if (t === 'login' || t === 'password' || t === 'account') {
      const v = toks[++i];
      if (cur && !inDefault && v !== undefined && t !== 'account') cur[t] = v;
    } else if (t === 'macdef') {
      i++;
    }
  }
  return entries;
}

/** Host without `:port` (enroot matches `${registry%:*}`). */
export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end >= 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
