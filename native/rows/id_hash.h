/*
 * The id index's hash and home slot (src/ps/store/id-index-base.ts), shared by the probes
 * (ps_kernels.c) and the rehash (store_kernels.c).
 */
#ifndef TESSERA_ID_HASH_H
#define TESSERA_ID_HASH_H
#include <stdint.h>
#include "rows_args.h" /* mix32 */

/* hashId of id-index-base.ts: murmur3-style mix of both halves. */
static inline uint32_t hash_id(uint32_t lo, uint32_t hi) {
  return mix32(lo ^ ((hi ^ (hi >> 16)) * 0x85ebca6bu), 0x7feb352du, 15, 0x846ca68bu);
}

/* The home slot of hash h: floor(h * capacity / 2^32), computed in doubles as the JS does. */
static inline uint64_t home_of(uint32_t h, double scale) {
  return (uint64_t)((double)h * scale);
}

/* home_of, kept inside the table even for a scale the caller got wrong (it is checked anyway). */
static inline uint64_t home_in(uint32_t h, double scale, uint64_t cap) {
  const uint64_t b = home_of(h, scale);
  return b < cap ? b : cap - 1;
}

#endif
