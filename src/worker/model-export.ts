/**
 * What training saves as a model: the job's tables and dense weights as they are on the PS now,
 * in the saved-model format (src/export). `tessera train --out/--export-dir` and the chief (its
 * `model/` and every published version) write through here, so every saved model has the same
 * tables and dense record.
 */
import type { PsClient } from '../client/ps-client';
import { saveModel, writeModel } from '../export/model-dir';
import type { ModelContent, ModelManifest } from '../export/model-dir';
import { publishVersion } from '../export/model-root';
import { DENSE_TABLE, FeatureLayout } from '../infer/feature-layout';
import type { JobSpec } from '../spec/types';

/** The model as the PS behind `client` holds it; rows are read from the PS while it is written. */
export async function modelContent(spec: JobSpec, layout: FeatureLayout, client: PsClient, info: { step: number; samples: number }): Promise<ModelContent> {
  const denseSize = (await client.data.pullDense(DENSE_TABLE)).length;
  return {
    spec, tables: layout.tableSpecs(), dense: layout.denseSpec(denseSize), step: info.step, samples: info.samples,
    rows: (table, kind) => client.admin.exportTable(table, kind),
  };
}

/** Where a trained model goes: a directory (replaced), and/or a new version in a model root. */
export interface ModelTargets {
  /** saved as one directory, replacing what is there */
  dir?: string;
  /** what `dir` is called in a disk error's message (default "model dir") */
  dirLabel?: string;
  /** published as the next version of `spec.name` under this model root */
  exportRoot?: string;
}

/** Writes the model to each target; returns the published version, if any. */
export async function saveTrainedModel(content: ModelContent, to: ModelTargets): Promise<{ manifest?: ModelManifest; version?: { version: number; dir: string } }> {
  const out: { manifest?: ModelManifest; version?: { version: number; dir: string } } = {};
  if (to.dir) out.manifest = await saveModel(to.dir, content, to.dirLabel);
  if (to.exportRoot) out.version = await publishVersion(to.exportRoot, content.spec.name, (dir) => writeModel(dir, content));
  return out;
}
