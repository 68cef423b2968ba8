#ifndef SWIFT_SPDY_FUZZ_CFUZZ_ZLIB_H
#define SWIFT_SPDY_FUZZ_CFUZZ_ZLIB_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_dictionaries.h"

/* A deflate stream that compresses header blocks the way a SPDY peer does: one zlib
   stream for a whole connection, each block ending with Z_SYNC_FLUSH. zlib.h is only
   included by the .c file, so this module never clashes with the library's CZlib. */
typedef struct cfuzz_deflater cfuzz_deflater;

/* A new stream. dictionary: 2 or 3 for the SPDY/2 or SPDY/3 dictionary, 0 for none (the
   stream then carries no FDICT and inflates without one). level: 0...9. windowBits:
   9...15. NULL when zlib refuses the parameters. */
cfuzz_deflater *cfuzz_deflater_new(int dictionary, int level, int window_bits);

void cfuzz_deflater_free(cfuzz_deflater *deflater);

/* Compresses `length` bytes as one block, ending with Z_SYNC_FLUSH (Z_FINISH when
   `finish` is non-zero), into `output`. Returns the number of bytes written, or -1 when
   zlib fails or `capacity` (at least cfuzz_bound(length)) is too small. */
long cfuzz_deflate(cfuzz_deflater *deflater, const uint8_t *input, size_t length, int finish, uint8_t *output,
                   size_t capacity);

/* A capacity that always suffices for cfuzz_deflate of `length` bytes. */
size_t cfuzz_bound(size_t length);

#endif
