/**
 * The `tessera/model` entry point: build a CTR model and print its parameter layout.
 *
 *   npx tsc -p examples/library/tsconfig.json && node dist/examples/library/model.js deepfm
 *
 * Prints one JSON line: the model kinds, and the chosen model's dense parameter count.
 */
import { createModel, MODEL_KINDS, ModelKind } from '@tessera-ps/tessera/model';

const kind = (process.argv[2] ?? 'deepfm') as ModelKind;
const model = createModel({ kind, numFields: 3, embDim: 4, numDense: 2, hidden: [8] });
process.stdout.write(`${JSON.stringify({ kinds: MODEL_KINDS, kind, denseSize: model.denseSize })}\n`);
