/**
 * KServe's Open Inference Protocol (v2) bodies for a Tessera model: one named input per feature
 * field (a 1-D tensor of the batch's raw values; `BYTES` for categorical fields, a numeric
 * datatype for numeric ones; null is a missing value), and two outputs: `probability` (FP32, the
 * click probability of each example) and `version` (INT64, the version that answered it).
 *
 * ```json
 * {"id": "r1", "inputs": [{"name": "I1", "shape": [2], "datatype": "INT64", "data": [3, null]},
 *                         {"name": "C1", "shape": [2], "datatype": "BYTES", "data": ["68fd1e64", "05db9164"]}]}
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { PredictResult } from './prediction-service';
import type { InputColumn } from './request-rows';

/** Datatypes a numeric field accepts. */
const NUMERIC_TYPES = new Set(['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

/** The parts of a v2 infer request Tessera reads. */
export interface V2Request {
  id?: string;
  columns: InputColumn[];
  /** `parameters.split_key` */
  splitKey?: string;
}

function checkTensor(t: Record<string, unknown>, where: string, numeric: boolean | undefined): unknown[] {
  if (typeof t.datatype !== 'string') invalid(where, '"datatype" must be a string such as FP64 or BYTES');
  if (numeric === true && !NUMERIC_TYPES.has(t.datatype)) invalid(where, `field ${String(t.name)} is numeric; datatype ${t.datatype} is not (use FP64, FP32 or an INT type)`);
  if (numeric === false && t.datatype !== 'BYTES') invalid(where, `field ${String(t.name)} is categorical; its datatype must be BYTES (got ${t.datatype})`);
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 2 || shape.some((d) => !Number.isInteger(d) || d < 0) || (shape.length === 2 && shape[1] !== 1)) {
    invalid(where, `"shape" must be [batch] or [batch, 1] (got ${JSON.stringify(shape)})`);
  }
  if (!Array.isArray(t.data)) invalid(where, '"data" must be a list');
  const data = (t.data as unknown[]).flat(2);
  if (data.length !== shape[0]) invalid(where, `"data" has ${data.length} values for shape ${JSON.stringify(shape)}`);
  return data;
}

/**
 * Reads a v2 infer body.
 * @param numericField whether a field is numeric (true), categorical (false) or not a feature (undefined)
 * @throws TesseraError INVALID_ARGUMENT naming the input (`inputs[2]`) and what is wrong
 */
export function decodeV2Request(body: unknown, numericField: (name: string) => boolean | undefined): V2Request {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) invalid('body', 'must be a JSON object with "inputs"');
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.inputs) || b.inputs.length === 0) invalid('inputs', 'must be a non-empty list of tensors {name, shape, datatype, data}, one per feature field');
  if (b.id !== undefined && typeof b.id !== 'string') invalid('id', 'must be a string');
  const params = (b.parameters ?? {}) as Record<string, unknown>;
  if (params.split_key !== undefined && typeof params.split_key !== 'string') invalid('parameters.split_key', 'must be a field name');
  const columns = (b.inputs as unknown[]).map((t, i): InputColumn => {
    const where = `inputs[${i}]`;
    if (typeof t !== 'object' || t === null) invalid(where, 'must be a tensor {name, shape, datatype, data}');
    const tensor = t as Record<string, unknown>;
    if (typeof tensor.name !== 'string') invalid(where, '"name" must be a feature field name');
    return { name: tensor.name, values: checkTensor(tensor, where, numericField(tensor.name)), where };
  });
  return { id: b.id as string | undefined, columns, splitKey: params.split_key as string | undefined };
}

/** Probabilities as JSON numbers with the 9 significant digits that round-trip a float32. */
export function probabilityList(probs: Float32Array): number[] {
  return Array.from(probs, (p) => Number(p.toPrecision(9)));
}

/** The version(s) a result came from: "3", or "3,4" when a split sent rows to both. */
export function versionText(r: PredictResult): string {
  return [...new Set(r.groups.map((g) => g.version))].sort((a, b) => a - b).join(',');
}

/** The v2 infer response. */
export function encodeV2Response(r: PredictResult): unknown {
  const n = r.probs.length;
  return {
    model_name: r.model, model_version: versionText(r), id: r.requestId,
    outputs: [
      { name: 'probability', datatype: 'FP32', shape: [n], data: probabilityList(r.probs) },
      { name: 'version', datatype: 'INT64', shape: [n], data: Array.from(r.versions) },
    ],
  };
}
