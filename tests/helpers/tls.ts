/**
 * The throwaway test certificates in tests/fixtures/tls/ (see its README): a CA, and a
 * certificate for localhost and 127.0.0.1 signed by it.
 * @module
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const fixture = (name: string) => new URL(`../fixtures/tls/${name}`, import.meta.url);

/** The server certificate (PEM), for localhost and 127.0.0.1. */
export const TLS_CERT: string = readFileSync(fixture("localhost.pem"), "utf8");
/** Its private key (PEM). */
export const TLS_KEY: string = readFileSync(fixture("localhost.key"), "utf8");
/** The CA that signed it (PEM). */
export const TLS_CA: string = readFileSync(fixture("ca.pem"), "utf8");
/** The CA's file, for a child told to trust it (NODE_EXTRA_CA_CERTS, DENO_CERT). */
export const CA_PATH: string = fileURLToPath(fixture("ca.pem"));
