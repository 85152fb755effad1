/**
 * `tessera replay FILE --to redis-stream://HOST:PORT/KEY --partitions N [--rate R] [--holdout K]`:
 * feeds a data file into a stream job's partitions (demos, tests, bench:online).
 */
import * as fs from 'node:fs';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { RedisStreamLog } from '../stream/redis-stream-log';
import { replayFile } from '../stream/replay';
import { parseStreamUrl } from '../stream/stream-url';
import { textOut } from './output';

const SPEC: Record<string, OptionSpec> = {
  to: { type: 'string', describe: 'the stream: redis-stream://HOST:PORT/KEY (entries go to KEY:0..N-1)' },
  partitions: { type: 'string', describe: 'partitions to spread the lines over, round robin (match the job\'s --partitions)', default: '1' },
  rate: { type: 'string', describe: 'events per second (default: as fast as possible)' },
  holdout: { type: 'string', describe: 'send every K-th line to the held-out partition KEY:eval that the chief evaluates on (0: none)', default: '0' },
  json: { type: 'boolean', describe: 'print {"events","per_partition","held_out","seconds","events_per_s"} as the last line' },
};

/** `tessera replay --help`. */
export const REPLAY_HELP = helpText('tessera replay FILE --to redis-stream://HOST:PORT/KEY [--partitions N] [--rate EVENTS_PER_S] [--holdout K] [--json]',
  'Appends each line of FILE (Criteo or Avazu) to a Redis stream as one entry (field `line`), line i\n'
  + 'to partition KEY:(i mod N), pipelined, as fast as possible or at --rate events per second.', SPEC);

/** Runs `tessera replay`; resolves with the exit code. */
export async function runReplay(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (args.positional.length !== 1) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera replay needs exactly one FILE (see --help)');
  const file = args.positional[0];
  if (!fs.existsSync(file)) throw new TesseraError(ERROR_CODES.CONFIG, `no such file ${file}`);
  if (!o.to) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera replay needs --to redis-stream://HOST:PORT/KEY');
  const url = parseStreamUrl(o.to);
  const rate = o.rate === undefined ? undefined : Number(o.rate);
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new TesseraError(ERROR_CODES.CONFIG, `--rate must be a positive number of events per second, got "${o.rate}"`);
  const log = new RedisStreamLog(url);
  try {
    const r = await replayFile(file, log, { key: url.key, partitions: intOption(args, 'partitions', 1), rate, holdout: intOption(args, 'holdout', 0) });
    const events = r.perPartition.reduce((a, b) => a + b, 0) + r.heldOut;
    const json = args.options.json === true;
    textOut(json).write(`replayed ${events} events to ${o.to} (partitions ${r.perPartition.join(', ')}; held out ${r.heldOut}) in ${r.seconds.toFixed(1)} s\n`);
    if (json) {
      process.stdout.write(`${JSON.stringify({ events, per_partition: r.perPartition, held_out: r.heldOut, seconds: r.seconds, events_per_s: r.seconds > 0 ? events / r.seconds : null })}\n`);
    }
    return 0;
  } finally {
    await log.close();
  }
}
