/**
 * SASLprep (RFC 4013) of a SCRAM password, as PostgreSQL and libpq do it (src/common/saslprep.c):
 * pure ASCII stays as it is; otherwise non-ASCII spaces become " ", "commonly mapped to nothing"
 * characters go, the result is NFKC-normalised, and when it holds a prohibited character the raw
 * password is used instead. Verifiers made here therefore match what psql and pgbench derive.
 *
 * Left out, as node-postgres leaves them out: RFC 3454's unassigned-code-point (A.1) and bidi
 * checks. PostgreSQL falls back to the raw password for those; the two differ only for a password
 * with code points unassigned in Unicode 3.2 or mixed-direction text that NFKC changes.
 */

/** RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020. */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;
/** RFC 3454 B.1: commonly mapped to nothing. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: combining joiners and variation selectors are what B.1 removes, one code point at a time
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;
/**
 * RFC 3454 C.1.2 to C.9 (C.4's non-characters are checked by code point below; C.5's surrogates
 * cannot be well-formed in a string, and a lone one fails the whole preparation).
 */
const PROHIBITED = new RegExp(
  [
    "[\\u00A0\\u1680\\u2000-\\u200B\\u202F\\u205F\\u3000]", // C.1.2
    "[\\u0000-\\u001F\\u007F]", // C.2.1
    "[\\u0080-\\u009F\\u06DD\\u070F\\u180E\\u200C\\u200D\\u2028\\u2029\\u2060-\\u2063\\u206A-\\u206F\\uFEFF\\uFFF9-\\uFFFC\\u{1D173}-\\u{1D17A}]", // C.2.2
    "[\\uE000-\\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}]", // C.3
    "[\\uFDD0-\\uFDEF]", // C.4 (the rest: U+xFFFE and U+xFFFF, below)
    "[\\uFFF9-\\uFFFD]", // C.6
    "[\\u2FF0-\\u2FFB]", // C.7
    "[\\u0340\\u0341\\u200E\\u200F\\u202A-\\u202E]", // C.8
    "[\\u{E0001}\\u{E0020}-\\u{E007F}]", // C.9
  ].join("|"),
  "u",
);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function saslprep(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (/^[\u0000-\u007F]*$/.test(password)) return password;
  if (LONE_SURROGATE.test(password)) return password;
  const prepared = password.replace(NON_ASCII_SPACE, " ").replace(MAPPED_TO_NOTHING, "").normalize("NFKC");
  if (PROHIBITED.test(prepared)) return password;
  for (const ch of prepared) if (((ch.codePointAt(0) ?? 0) & 0xfffe) === 0xfffe) return password;
  return prepared;
}
