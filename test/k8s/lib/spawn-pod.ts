/**
 * Starts a substituted pod process (local-substitution.ts) as a real OS process: `node argv…`
 * with exactly the environment the pod would have (nothing inherited from the test runner but
 * PATH), output appended to a log file. Returns src/local/child.ts's Child.
 */
import { Child, spawnNode } from '../../../src/local/child';
import type { LocalProcess } from './local-substitution';

export function spawnPod(local: LocalProcess, logFile: string): Child {
  return spawnNode(local.pod, local.argv, logFile, { PATH: process.env.PATH ?? '', ...local.env });
}
