/**
 * The `Sec-WebSocket-Key` / `Sec-WebSocket-Accept` pair of RFC 6455 §4, with Web Crypto.
 * @module
 */

/** The GUID RFC 6455 appends to the client's key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();
const BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 of a small byte array (keys and hashes, not payloads). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/**
 * Whether a `Sec-WebSocket-Key` is well-formed: base64 of exactly 16 bytes, i.e. 22 base64
 * characters and `==`.
 */
export function isValidClientKey(key: string): boolean {
  if (key.length !== 24 || !key.endsWith("==")) return false;
  for (let i = 0; i < 22; i++) {
    if (!BASE64_CHARS.includes(key[i])) return false;
  }
  // The last character carries 2 bits of the 16th byte and 4 padding bits that must be zero.
  return "AQgw".includes(key[21]);
}

/** A fresh random key for a client handshake: 16 random bytes, base64. */
export function generateClientKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/** `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)), hashed by Web Crypto. */
export async function computeAcceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WEBSOCKET_GUID));
  return toBase64(new Uint8Array(digest));
}
