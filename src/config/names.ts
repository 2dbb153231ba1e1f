/** Host name grammar shared by the registries.conf parser (distribution/reference regexp.go `domainName`). */

/** One DNS label. */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
/** A domain name or a bracketed IPv6 literal, without port; for embedding in larger patterns. */
export const DOMAIN_RE_SOURCE = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
