/**
 * RowSource: what a trainer reads rows from, whatever holds them. The file reader (RowReader, a
 * byte range of one file, positions are byte offsets) and the stream reader (src/stream, several
 * partitions of an event log, positions are the last entry id applied per partition) both sit
 * behind it, so a trainer commits "where reading resumes" without knowing which one it reads.
 */
import type { RawRow } from './record';

/** A batch of rows and where reading resumes after it. */
export interface PositionedRows<P> {
  rows: RawRow[];
  /** The position just past the last input this batch consumed (rows, blank and bad alike). */
  next: P;
}

/** Counters of one pass over the input. Blank lines are neither rows nor bad. */
export interface ReaderStats {
  rows: number;
  bad: number;
  blank: number;
  /** Up to 5 "where: reason" examples of bad input. */
  samples: string[];
}

/** A source of parsed rows with resume positions of type `P`. */
export interface RowSource<P> {
  /** Rows in batches of at most `batchSize`; a batch may be empty when only bad input followed the last one. */
  positionedBatches(batchSize: number): AsyncIterable<PositionedRows<P>>;
  /** A copy of the counters of the current (or last) pass. */
  stats(): ReaderStats;
}
