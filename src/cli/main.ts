/**
 * Entry point of the `tessera` binary: dispatches to a subcommand. Every subcommand takes --help.
 */
import { EXIT, userErrorLine } from './user-errors';
import { quietOnClosedPipe } from './output';
import { closest } from '../common/edit-distance';
import { tesseraVersion } from '../metrics/build-info';
import { startCpuProfileFromEnv } from '../runtime/cpu-profile';

interface Command {
  summary: string;
  help: () => string;
  run: (argv: string[]) => Promise<number>;
}

const COMMANDS: Record<string, () => Command> = {
  ps: () => {
    const m = require('./ps') as typeof import('./ps');
    return { summary: 'run one parameter server', help: () => m.PS_HELP, run: m.runPs };
  },
  train: () => {
    const m = require('./train') as typeof import('./train');
    return { summary: 'train one worker against PS shards, evaluate, save the model', help: () => m.TRAIN_HELP, run: m.runTrain };
  },
  eval: () => {
    const m = require('./eval') as typeof import('./eval');
    return { summary: 'evaluate a saved model on a data file (AUC, LogLoss; per slice with --slice-by)', help: () => m.EVAL_HELP, run: m.runEval };
  },
  plan: () => { const m = require('./plan') as typeof import('./plan'); return { summary: 'plan PS pods for a table from its measured bytes per row', help: () => m.PLAN_HELP, run: m.runPlan }; },
  status: () => {
    const m = require('./status') as typeof import('./status');
    return { summary: 'show a job\'s members, chief and shard map from etcd', help: () => m.STATUS_HELP, run: m.runStatus };
  },
  demo: () => {
    const m = require('./demo') as typeof import('./demo');
    return { summary: 'start 2 PS processes and pull/push through them (npm start)', help: () => m.DEMO_HELP, run: m.runDemo };
  },
  local: () => {
    const m = require('./local') as typeof import('./local');
    return { summary: 'run a whole cluster here: etcd, N PS, M workers, a chief (npm start)', help: () => m.LOCAL_HELP, run: m.runLocal };
  },
  chief: () => {
    const m = require('./chief') as typeof import('./chief');
    return { summary: 'one chief candidate: leads the job (tables, data shards, eval) once elected', help: () => m.CHIEF_HELP, run: m.runChief };
  },
  worker: () => {
    const m = require('./worker') as typeof import('./worker');
    return { summary: 'one training worker: trains the data shards the chief assigns', help: () => m.WORKER_HELP, run: m.runWorker };
  },
  checkpoint: () => {
    const m = require('./checkpoint') as typeof import('./checkpoint');
    return { summary: 'checkpoints on disk: ls DIR, inspect DIR/ID, verify DIR[/ID]', help: () => m.CHECKPOINT_HELP, run: m.runCheckpoint };
  },
  certs: () => {
    const m = require('./certs') as typeof import('./certs');
    return { summary: 'a job\'s CA and certificates for mutual TLS: init, issue', help: () => m.CERTS_HELP, run: m.runCerts };
  },
  health: () => {
    const m = require('./health') as typeof import('./health');
    return { summary: 'one health probe of a gRPC port or an HTTP(S) URL, with the pod\'s certificate (exec probes)', help: () => m.HEALTH_HELP, run: m.runHealth };
  },
  serve: () => {
    const m = require('./serve') as typeof import('./serve');
    return { summary: 'serve models from a model root (REST, gRPC): hot update, labels, rollback, canary (status|rollback|label)', help: () => m.SERVE_HELP, run: m.runServe };
  },
  replay: () => {
    const m = require('./replay') as typeof import('./replay');
    return { summary: 'feed a data file into a redis-stream:// source\'s partitions (online learning)', help: () => m.REPLAY_HELP, run: m.runReplay };
  },
  gen: () => {
    const m = require('./gen') as typeof import('./gen');
    return { summary: 'write synthetic Criteo-format rows from a planted model', help: () => m.GEN_HELP, run: m.runGen };
  },
};

function usage(): string {
  const lines = ['Usage: tessera <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${load().summary}`);
  lines.push('', 'Run `tessera help <command>` (or `tessera <command> --help`) for a command\'s options;',
    '`tessera --version` for the version.', '', 'Exit codes: 0 done, 1 failed, 2 usage or configuration error (one line on stderr says which).');
  return lines.join('\n');
}

/** Runs the CLI and resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // grpc-js prints its own "E No address added …" lines before the error reaches us; the one line
  // below says it better. GRPC_VERBOSITY=ERROR (or DEBUG) in the environment brings them back.
  process.env.GRPC_VERBOSITY ??= 'NONE';
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`tessera ${tesseraVersion()}\n`);
    return EXIT.OK;
  }
  if (name === 'help' && rest.length > 0) return main([rest[0], '--help']);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const id = rest.indexOf('--id');
  startCpuProfileFromEnv(id >= 0 && rest[id + 1] ? rest[id + 1] : name);
  const load = COMMANDS[name];
  if (!load) {
    const near = closest(name, Object.keys(COMMANDS));
    process.stderr.write(`tessera: unknown command "${name}"${near ? ` (did you mean ${near}?)` : ''}; run \`tessera help\` for the commands\n`);
    return EXIT.USAGE;
  }
  const cmd = load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help()}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    const line = userErrorLine(err);
    if (line === undefined) throw err;
    process.stderr.write(`tessera ${name}: ${line}\n`);
    return EXIT.USAGE;
  } finally {
    releaseModelBackend();
  }
}

/**
 * Destroys the GPU device of a command that computed on the webgpu backend: a live Dawn device
 * may keep the event loop, and so the process, alive. Commands that never loaded the model
 * package are not made to load it (and tfjs with it) here.
 */
function releaseModelBackend(): void {
  const id = require.resolve('../model/backend');
  if (require.cache[id] !== undefined) (require(id) as typeof import('../model/backend')).releaseBackend();
}
