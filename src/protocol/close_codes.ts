/**
 * Close status codes (RFC 6455 §7.4) and the rules for which may appear on the wire.
 * @module
 */

/** Status codes with a fixed meaning, as registered with IANA. */
export const CloseCode = {
  /** The purpose for which the connection was established has been fulfilled. */
  Normal: 1000,
  /** The endpoint is going away: a server shutting down or a page navigated away. */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The peer sent a kind of data this endpoint cannot accept. */
  UnsupportedData: 1003,
  /** Reported locally when a close frame carried no status code; never sent. */
  NoStatusReceived: 1005,
  /** Reported locally when the connection dropped without a close frame; never sent. */
  AbnormalClosure: 1006,
  /** A text message (or close reason) was not valid UTF-8. */
  InvalidPayload: 1007,
  /** A message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** A message was larger than the endpoint accepts. */
  MessageTooBig: 1009,
  /** The client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** The endpoint hit an unexpected condition. */
  InternalError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** The service is overloaded; try again later. */
  TryAgainLater: 1013,
  /** A gateway received an invalid response from upstream. */
  BadGateway: 1014,
  /** Reported locally when the TLS handshake failed; never sent. */
  TlsHandshake: 1015,
} as const;

/**
 * Whether a status code may appear in a close frame on the wire, either received or sent:
 * 1000–1003 and 1007–1014 from the registry, 3000–3999 for libraries and frameworks, 4000–4999
 * for private use. Everything else (below 1000, 1004–1006, 1015, the unassigned 1016–2999 and
 * 5000 and up) is a protocol error when received.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}
