/** Parameter-server table storage: embedding and dense tables, their store and initialisers. */
export { TableStore } from './table-store';
export type { TableStoreOptions } from './table-store';
export { EmbeddingTable, DEFAULT_SLAB_ROWS } from './embedding-table';
export type { EmbeddingTableOptions } from './embedding-table';
export { DenseTable } from './dense-table';
export type { DenseTableOptions } from './dense-table';
export {
  IdIndex, IdIndexBase, hashId, capacityFor, nextCapacity, ID_INDEX_MAX_LOAD, ID_INDEX_GROWTH, ID_INDEX_MIN_CAPACITY, ID_INDEX_MAX_CAPACITY,
} from './id-index';
export { TaggedIdIndex } from './tagged-id-index';
export type { RowIds } from './tagged-id-index';
export { initRow, validateInitializer, DEFAULT_INITIALIZER } from './initializers';
export type { InitializerConfig } from './initializers';
export {
  normalizeTableSpec, sameSpec, checkTableName, checkDim, checkSeed,
  MAX_EMBEDDING_DIM, MAX_DENSE_SIZE, TABLE_NAME_PATTERN,
} from './table-spec';
export type { TableSpec, TableInfo, EmbeddingTableSpec, DenseTableSpec } from './table-spec';
