/**
 * Strict UTF-8 decoding, as RFC 6455 requires of text messages and close reasons: invalid bytes
 * throw instead of becoming U+FFFD, and a leading BOM is kept as the text it is.
 * @module
 */

/** The options every strict decoder is created with. */
export const STRICT_UTF8: TextDecoderOptions = { fatal: true, ignoreBOM: true };

/**
 * One decoder for whole byte sequences, shared by every connection: a call without
 * `{ stream: true }` starts from a clean state, so sharing is safe. Text that arrives in pieces
 * needs a decoder of its own (`new TextDecoder("utf-8", STRICT_UTF8)`).
 */
export const strictUtf8: TextDecoder = new TextDecoder("utf-8", STRICT_UTF8);
