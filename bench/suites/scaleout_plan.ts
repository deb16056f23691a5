/**
 * The scale-out suite's plan: the topologies it measures, where each process runs, and how it
 * judges a run contended. Shared by the suite and SCALEOUT.md's renderer.
 *
 * @module
 */

import type { Pinning, Topology } from "../lib/results.ts";

/** The topologies, in the order each server goes through them. */
export const TOPOLOGIES: Topology[] = ["1", "1r", "2r"];

/** Each topology's name in the tables. */
export const TOPOLOGY_LABEL: Record<Topology, string> = {
  "1": "1 instance",
  "1r": "1 instance + Redis",
  "2r": "2 instances + Redis",
};

/**
 * CPU lists: [instance A, instance B, load generator, Redis]. One instance: CPU 0 holds only the
 * server's own work. Two instances: one CPU each, and the machine has no third for the rest.
 */
export const PINNING: Pinning = {
  "1": { a: "0", b: "", loadgen: "1", redis: "1" },
  "1r": { a: "0", b: "", loadgen: "1", redis: "1" },
  "2r": { a: "0", b: "1", loadgen: "0,1", redis: "0,1" },
};

/** The target: edgews ÷ Socket.IO with its Redis adapter. */
export const TARGET_VS_ANCHOR = 5;

/** A run during which other processes used more than this many CPUs is re-run... */
export const CONTENDED_CPUS = 0.15;
/** ...twice at most. */
export const MAX_ATTEMPTS = 3;
