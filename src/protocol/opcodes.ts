/**
 * Frame opcodes from RFC 6455 §5.2 and helpers to classify them.
 * @module
 */

/** The opcodes RFC 6455 defines; 3–7 and 0xB–0xF are reserved. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the opcodes in {@link Opcode}. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/** Control frames are the opcodes with the high bit set (close, ping, pong and reserved 0xB–0xF). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Whether an opcode is one RFC 6455 defines, as opposed to a reserved one. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
