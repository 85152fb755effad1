/**
 * The fixed role vocabulary: every process of a job is a parameter server, a worker or a chief.
 * Membership keys, metric labels and logs all use these names.
 */

/** Every role, in the order they start. */
export const ROLES = ['ps', 'worker', 'chief'] as const;

/** A process role. */
export type Role = (typeof ROLES)[number];

/**
 * Every kind of Tessera process, for logs and metric labels: the job's roles, and `serve`
 * (`tessera serve`), which answers predictions and is not a member of any job.
 */
export type ProcessRole = Role | 'serve';
