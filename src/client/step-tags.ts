/**
 * The StepTag of each request of one training step (ADR 0040), for PsDataClient.pushStep: parts
 * counted per PS, the step numbered once every request is counted, one tag per PS id.
 */
import type { StepTag } from '../wire/step-tag';
import type { Route } from './route';
import type { StepNumbering } from './step-numbering';

/**
 * The StepTags of one step's requests: `count` the requests per PS while preparing, `seal` to
 * number the step, then `tagFor` each PS (by id, stable across maps). A PS the step sends nothing
 * to is `untouched`: it gets an empty request, so that it can count the step complete.
 */
export class StepTags {
  private readonly parts: number[];
  private readonly tags = new Map<number, StepTag>();
  private sealed: { client: bigint; step: number; ackedThrough: number; positions: Uint8Array } | undefined;

  constructor(private readonly steps: StepNumbering, readonly route: Route) {
    this.parts = route.map.ps.map(() => 0);
  }

  /** Counts `requests` more requests of the step to the PS at `psIndex` of the route. */
  count(psIndex: number, requests: number): void {
    this.parts[psIndex] += requests;
  }

  /** The PS indexes the step sends nothing to, each counted as one (empty) request from now on. */
  untouched(): number[] {
    const out: number[] = [];
    this.parts.forEach((n, i) => { if (n === 0) { out.push(i); this.parts[i] = 1; } });
    return out;
  }

  /** Numbers the step (every request counted); returns its step id and number. */
  seal(): { client: bigint; step: number } {
    this.sealed = { client: this.steps.id, step: this.steps.begin(), ackedThrough: this.steps.ackedThrough, positions: this.steps.positions() };
    return this.sealed;
  }

  /** The tag of the step's requests to the PS with id `psId` (after `seal`). */
  tagFor(psId: number): StepTag {
    let t = this.tags.get(psId);
    if (!t) {
      const i = this.route.map.ps.findIndex((p) => p.id === psId);
      t = { ...this.sealed!, parts: i < 0 ? 1 : this.parts[i] };
      this.tags.set(psId, t);
    }
    return t;
  }
}
