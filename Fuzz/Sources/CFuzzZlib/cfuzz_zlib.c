#include "cfuzz_zlib.h"

#include <stdlib.h>
#include <zlib.h>

struct cfuzz_deflater {
    z_stream stream;
};

cfuzz_deflater *cfuzz_deflater_new(const uint8_t *dictionary, size_t dictionary_length, int level,
                                   int window_bits) {
    cfuzz_deflater *d = calloc(1, sizeof(*d));
    if (d == NULL) return NULL;
    if (deflateInit2(&d->stream, level, Z_DEFLATED, window_bits, 1, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d);
        return NULL;
    }
    if (dictionary_length > 0 && deflateSetDictionary(&d->stream, dictionary, (uInt)dictionary_length) != Z_OK) {
        deflateEnd(&d->stream);
        free(d);
        return NULL;
    }
    return d;
}

void cfuzz_deflater_free(cfuzz_deflater *d) {
    if (d == NULL) return;
    deflateEnd(&d->stream);
    free(d);
}

size_t cfuzz_bound(size_t length) {
    /* deflateBound does not count the sync flush's empty stored block (5 bytes) nor the
       zlib header; be generous. */
    return length + length / 8 + 64;
}

long cfuzz_deflate(cfuzz_deflater *d, const uint8_t *input, size_t length, int finish, uint8_t *output,
                   size_t capacity) {
    d->stream.next_in = (Bytef *)input;
    d->stream.avail_in = (uInt)length;
    d->stream.next_out = output;
    d->stream.avail_out = (uInt)capacity;
    int rc = deflate(&d->stream, finish ? Z_FINISH : Z_SYNC_FLUSH);
    if (finish ? rc != Z_STREAM_END : rc != Z_OK) return -1;
    if (d->stream.avail_in != 0) return -1;
    return (long)(capacity - d->stream.avail_out);
}
