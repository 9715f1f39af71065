/**
 * The one home of secret redaction: passwords in URI user info, secret URI
 * and libpq parameters (`password=`, `sslpassword=`), agent keys (`xagt-`),
 * user tokens (`xtok-`), and secret-named config entries. Logs, error
 * messages, API answers and CLI output all pass text through here, so a
 * secret hidden in one place is hidden in all.
 *
 * @module
 */

/** Parameters whose values are secrets, in URIs (`?password=`) and libpq strings (`password=`). */
export const SECRET_PARAMS = ["password", "sslpassword"] as const;

/** Config keys whose values are never shown. */
const SECRET_CONFIG_KEY = /pass|secret|key|token/i;

// The password runs to the last "@" of the URI: passwords may hold "@" themselves.
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)(\S*)@/gi;

/**
 * `name=` preceded by a separator, each letter plain or percent-encoded (a
 * URL parser decodes `pass%77ord` back to `password`, so it is one too).
 */
function paramPattern(name: string, valueEnd: string): RegExp {
  const letters = [...name].map((c) => `(?:${c}|%${c.charCodeAt(0).toString(16)})`).join("");
  return new RegExp(`((?:^|[?&;\\s])${letters}=)[^${valueEnd}]*`, "gi");
}

// In free text a value ends at white space (libpq's "password=x dbname=y"); in a
// URI only "&" or "#" end it, since a URI may not be well-formed.
const TEXT_PARAM_PATTERNS = SECRET_PARAMS.map((n) => paramPattern(n, "&#\\s"));
const URI_PARAM_PATTERNS = SECRET_PARAMS.map((n) => paramPattern(n, "&#"));

/** Options of {@linkcode redact}. */
export interface RedactOptions {
  /** Keep the `xagt-` of an agent key in user info (`dev:xagt-***@`), as DSNs are shown. */
  keepKeyPrefix?: boolean;
}

/** `text` with every secret hoop knows the shape of replaced by `***`. Never throws. */
export function redact(text: string, opts: RedactOptions = {}): string {
  const out = String(text).replace(
    USERINFO,
    (_m, head: string, secret: string) =>
      `${head}${opts.keepKeyPrefix && secret.startsWith("xagt-") ? "xagt-" : ""}***@`,
  );
  return redactSecretParams(out)
    .replace(/xagt-(?!\*\*\*)[A-Za-z0-9_-]+/g, "xagt-***")
    .replace(/xtok-(?!\*\*\*)[A-Za-z0-9_-]+/g, "xtok-***");
}

/**
 * `text` with the values of {@linkcode SECRET_PARAMS} replaced by `***`;
 * `uri` when the whole text is one URI, whose values may hold spaces.
 */
export function redactSecretParams(text: string, opts: { uri?: boolean } = {}): string {
  let out = text;
  for (const p of opts.uri ? URI_PARAM_PATTERNS : TEXT_PARAM_PATTERNS) {
    out = out.replace(p, "$1***");
  }
  return out;
}

/** A config map as it may be shown: secret-named entries hidden, every value redacted. */
export function redactConfig(config: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    out[k] = SECRET_CONFIG_KEY.test(k) ? "***" : redact(v);
  }
  return out;
}
