/**
 * The fixed role vocabulary: every process of a job is a parameter server, a worker or a chief.
 * Membership keys, metric labels and logs all use these names.
 */

/** Every role, in the order they start. */
export const ROLES = ['ps', 'worker', 'chief'] as const;

/** A process role. */
export type Role = (typeof ROLES)[number];
