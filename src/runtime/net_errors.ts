/**
 * Listen and connect failures in one wording on every runtime. Deno and Bun report the same
 * failure differently (a port in use is `AddrInUse: Address already in use (os error 98)` on Deno,
 * with no address, and `Failed to listen at 127.0.0.1` on Bun, with no port and no reason): each
 * adapter sorts its runtime's error into one of the kinds below, and this file words it. The
 * runtime's error is always kept as `cause`.
 * @module
 */

/** What went wrong, whichever runtime said it. */
export type NetFailureKind =
  | "in-use"
  | "permission"
  | "not-local"
  | "unresolved"
  | "no-net-permission"
  | "refused"
  | "reset"
  | "unreachable"
  | "not-tls"
  | "untrusted"
  | "wrong-name"
  | "tls-closed";

/** The system error codes (as Node and both runtimes spell them) that map to a kind directly. */
const CODES: Record<string, NetFailureKind> = {
  EADDRINUSE: "in-use",
  EACCES: "permission",
  EPERM: "permission",
  EADDRNOTAVAIL: "not-local",
  ENOTFOUND: "unresolved",
  EAI_NONAME: "unresolved",
  EAI_AGAIN: "unresolved",
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
};

/** The kind for an error's `code`, if it has a known one. */
export function kindOfCode(error: unknown): NetFailureKind | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? CODES[code] : undefined;
}

/** Certificate verification codes (OpenSSL's, as Node and Bun spell them) that mean "not trusted". */
const UNTRUSTED_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/**
 * The kind of a node:net / node:tls error, as Node raises them and Bun mirrors them: by `code`,
 * TLS errors by OpenSSL's (or BoringSSL's) reason (`WRONG_VERSION_NUMBER` is what a plain HTTP
 * answer to a ClientHello gives).
 */
export function kindOfNodeError(error: unknown): NetFailureKind | undefined {
  const byCode = kindOfCode(error);
  if (byCode !== undefined) return byCode;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNTRUSTED_CODES.has(code)) return "untrusted";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "wrong-name";
  const message = error instanceof Error ? error.message : "";
  // Bun's messages say `WRONG_VERSION_NUMBER`, Node's `wrong version number` (and its code
  // `ERR_SSL_WRONG_VERSION_NUMBER`).
  const notTls = /WRONG[_ ]VERSION[_ ]NUMBER|HTTP[_ ]REQUEST|PACKET[_ ]LENGTH[_ ]TOO[_ ]LONG/i;
  if (notTls.test(message)) return "not-tls";
  if (/disconnected before secure TLS|connection closed/i.test(message)) return "tls-closed";
  return undefined;
}

/** The `code` to put on a listen error, so that `error.code === "EADDRINUSE"` works everywhere. */
const CODE_OF: Partial<Record<NetFailureKind, string>> = {
  "in-use": "EADDRINUSE",
  "permission": "EACCES",
  "not-local": "EADDRNOTAVAIL",
  "unresolved": "ENOTFOUND",
};

/** `host:port`, with brackets around an IPv6 address. */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * The error `serve()` throws when it cannot listen: "cannot listen on 127.0.0.1:8080: the
 * address is already in use", with the runtime's error as `cause` and the system error code (for
 * the kinds that have one) as `code`.
 */
export function listenError(
  hostname: string,
  port: number,
  kind: NetFailureKind | undefined,
  cause: unknown,
): Error {
  let reason: string;
  switch (kind) {
    case "in-use":
      reason = "the address is already in use";
      break;
    case "permission":
      reason = port > 0 && port < 1024
        ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        : "permission denied";
      break;
    case "not-local":
      reason = "that is not an address of this machine";
      break;
    case "unresolved":
      reason = "the host name could not be resolved";
      break;
    case "no-net-permission":
      reason = "Deno's net permission was not granted (run it with --allow-net)";
      break;
    default:
      reason = messageOf(cause);
  }
  const error = new Error(`cannot listen on ${hostPort(hostname, port)}: ${reason}`, { cause });
  const code = (kind && CODE_OF[kind]) ?? (cause as { code?: unknown } | null)?.code;
  if (typeof code === "string") Object.assign(error, { code });
  return error;
}

/**
 * The reason a dial to `hostname:port` failed, in the TCP phase or (`tls`) in the TLS handshake;
 * `serverName` is the name the certificate was checked against.
 */
export function dialReason(
  kind: NetFailureKind | undefined,
  cause: unknown,
  where: { hostname: string; port: number; tls: boolean; serverName: string },
): string {
  if (where.tls) {
    const tls = (reason: string) => `the TLS handshake failed: ${reason}`;
    switch (kind) {
      case "not-tls":
        return tls(
          `the server at ${hostPort(where.hostname, where.port)} does not speak TLS ` +
            "(is it ws:// rather than wss://?)",
        );
      case "untrusted":
        return tls(
          "the server's certificate is not trusted (for a private CA, pass tls: { caCerts })",
        );
      case "wrong-name":
        return tls(`the server's certificate is not valid for ${where.serverName}`);
      case "tls-closed":
      case "reset":
        return tls("the server closed the connection");
      default:
        return tls(messageOf(cause));
    }
  }
  switch (kind) {
    case "refused":
      return "the connection was refused (is the server running, on that port?)";
    case "reset":
      return "the connection was reset";
    case "unresolved":
      return `the host name ${where.hostname} could not be resolved`;
    case "unreachable":
      return `${where.hostname} is unreachable`;
    case "no-net-permission":
      return "Deno's net permission was not granted (run it with --allow-net)";
    default:
      return messageOf(cause);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
