/** Optimizers applied by parameter-server tables. Build one with `createOptimizer`. */
export type {
  AdagradConfig, AdamConfig, FtrlConfig, Optimizer, OptimizerConfig, OptimizerKind, SgdConfig,
} from './optimizer';
export { createOptimizer, OPTIMIZER_KINDS } from './registry';
export { SgdOptimizer } from './sgd';
export { AdagradOptimizer, ADAGRAD_DEFAULT_EPS, ADAGRAD_DEFAULT_INITIAL_ACCUMULATOR } from './adagrad';
export { AdamOptimizer, ADAM_DEFAULT_BETA1, ADAM_DEFAULT_BETA2, ADAM_DEFAULT_EPS } from './adam';
export { FtrlOptimizer, FTRL_DEFAULT_BETA, FTRL_DEFAULT_INITIAL_ACCUMULATOR } from './ftrl';
export { badConfig, checkKeys, checkNumber, checkObject } from './config-check';
export type { NumberBounds } from './config-check';
