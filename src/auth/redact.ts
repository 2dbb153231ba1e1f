/**
 * Keeping secrets out of messages. Every error that might quote something
 * derived from a credential (helper output, HTTP bodies) goes through
 * redactSecrets first. See docs/auth.md, "never log a secret".
 */
import type { Credential } from './types.js';

/** What replaces a secret in redacted text. */
export const REDACTED = '<redacted>';

/**
 * `text` with every occurrence of each non-empty secret replaced by REDACTED.
 * Longer secrets are replaced first, so a secret containing another is removed whole.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const list = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length > 0))];
  list.sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  let out = text;
  for (const s of list) out = out.split(s).join(REDACTED);
  return out;
}

/** The secret strings of a credential, including the Basic `user:pass` base64 form. */
export function secretsOf(credential: Credential | undefined): string[] {
  if (!credential) return [];
  if ('identityToken' in credential) return [credential.identityToken];
  const basic = Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64');
  return [credential.password, basic];
}
