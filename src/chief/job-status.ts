/**
 * The status figures the chief publishes, computed from the job state and progress records. Pure.
 */
import type { JobState, JobStatus, Progress } from '../control/job-types';
import { emptyStalenessCounts, stalenessQuantile } from '../control/push-staleness';

/** Samples, steps and mean recent loss of the epoch in training (zero outside the train phase). */
export function epochTotals(state: JobState, progress: ReadonlyMap<number, Progress>): { samples: number; steps: number; loss: number | null } {
  if (state.phase !== 'train') return { samples: 0, steps: 0, loss: null };
  let samples = 0;
  let steps = 0;
  let lossSum = 0;
  let lossN = 0;
  for (const p of progress.values()) {
    if (p.epoch !== state.epoch) continue;
    samples += p.rows;
    steps += p.steps;
    if (p.loss !== null && !p.done) {
      lossSum += p.loss;
      lossN++;
    }
  }
  return { samples, steps, loss: lossN ? lossSum / lossN : null };
}

/**
 * samples/s over the finished epochs of this run: the samples trained since the job started or
 * was last resumed, over the training seconds since then (evaluation excluded).
 */
export function finishedSamplesPerS(state: JobState): number {
  const samples = state.samplesBefore - Math.min(state.samplesBefore, state.samplesAtResume ?? 0);
  return state.trainSecondsBefore > 0 ? samples / state.trainSecondsBefore : 0;
}

export function jobStatus(args: {
  state: JobState; progress: ReadonlyMap<number, Progress>; shardsDone: number; workers: number; chief: string; nowMs: number; lastLoss: number | null;
}): JobStatus {
  const { state, progress, nowMs } = args;
  const e = epochTotals(state, progress);
  let nonFiniteStops = 0;
  const workerSamples: Record<string, number> = {};
  const staleness = emptyStalenessCounts();
  for (const p of progress.values()) {
    if (p.epoch !== state.epoch) continue;
    if (p.nonFinite) nonFiniteStops++;
    workerSamples[p.worker] = (workerSamples[p.worker] ?? 0) + p.rows;
    p.staleness?.forEach((c, b) => { staleness[b] += c; });
  }
  const epochSeconds = Math.max(1e-3, (nowMs - Date.parse(state.epochStartedAt)) / 1000);
  // This run's samples in the epoch: those before a mid-epoch resume were trained by another run.
  const samplesPerS = state.phase === 'train'
    ? (state.samplesBefore + e.samples - Math.max(state.samplesBefore, state.samplesAtResume ?? 0)) / epochSeconds
    : finishedSamplesPerS(state);
  const status: JobStatus = {
    epoch: state.epoch, epochs: state.epochs, phase: state.phase,
    step: state.stepsBefore + e.steps, samples: state.samplesBefore + e.samples, samplesPerS,
    loss: e.loss ?? args.lastLoss, lastEval: state.evals.length ? state.evals[state.evals.length - 1] : null,
    shardsDone: args.shardsDone, shardsTotal: state.shards.length, workers: args.workers, chief: args.chief, nonFiniteStops, workerSamples,
    pushStalenessP99: stalenessQuantile(staleness, 0.99), at: new Date(nowMs).toISOString(),
  };
  if (state.result) status.result = state.result;
  if (state.failure) status.failure = state.failure;
  return status;
}
