#ifndef SWIFT_SPDY_FUZZ_CFUZZ_ZLIB_H
#define SWIFT_SPDY_FUZZ_CFUZZ_ZLIB_H

#include <stddef.h>
#include <stdint.h>

/* A deflate stream that compresses header blocks the way a SPDY peer does: one zlib
   stream for a whole connection, each block ending with Z_SYNC_FLUSH. zlib.h is only
   included by the .c file, so this module never clashes with the library's CZlib. */
typedef struct cfuzz_deflater cfuzz_deflater;

/* A new stream, primed with `dictionary` (the library's SPDYVersion.headerDictionary) when
   dictionary_length > 0; with no dictionary the stream carries no FDICT and inflates
   without one. level: 0...9. windowBits: 9...15. NULL when zlib refuses the parameters. */
cfuzz_deflater *cfuzz_deflater_new(const uint8_t *dictionary, size_t dictionary_length, int level,
                                   int window_bits);

void cfuzz_deflater_free(cfuzz_deflater *deflater);

/* Compresses `length` bytes as one block, ending with Z_SYNC_FLUSH (Z_FINISH when
   `finish` is non-zero), into `output`. Returns the number of bytes written, or -1 when
   zlib fails or `capacity` (at least cfuzz_bound(length)) is too small. */
long cfuzz_deflate(cfuzz_deflater *deflater, const uint8_t *input, size_t length, int finish, uint8_t *output,
                   size_t capacity);

/* A capacity that always suffices for cfuzz_deflate of `length` bytes. */
size_t cfuzz_bound(size_t length);

#endif
