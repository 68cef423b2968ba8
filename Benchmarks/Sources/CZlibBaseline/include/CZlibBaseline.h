#ifndef SWIFT_SPDY_BENCHMARKS_CZLIB_BASELINE_H
#define SWIFT_SPDY_BENCHMARKS_CZLIB_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/* Plain zlib, no SPDY: a baseline for the header-block benchmarks. zlib.h is
   only included by the .c file, so this module never clashes with the CZlib
   module of the library. */

/* Compresses `count` blocks, laid end to end in `input` with the sizes in
   `lengths`, as one zlib stream (Z_SYNC_FLUSH after each block, no
   dictionary), the way a SPDY session compresses its header blocks. Writes
   each block's compressed size to `compressed_lengths`. Returns the total
   compressed size, or -1. */
long zlib_baseline_compress(const uint8_t *input, const size_t *lengths, size_t count, int level,
                            int window_bits, int mem_level, uint8_t *output, size_t output_capacity,
                            size_t *compressed_lengths);

/* Inflates the blocks written by zlib_baseline_compress with a fresh inflate
   stream, one Z_SYNC_FLUSH call per block, each block into the same scratch
   buffer. Returns the total inflated size, or -1. */
long zlib_baseline_inflate(const uint8_t *input, const size_t *lengths, size_t count, uint8_t *scratch,
                           size_t scratch_capacity);

#endif
