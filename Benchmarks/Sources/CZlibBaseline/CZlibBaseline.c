#include "CZlibBaseline.h"

#include <string.h>
#include <zlib.h>

long zlib_baseline_compress(const uint8_t *input, const size_t *lengths, size_t count, int level,
                            int window_bits, int mem_level, uint8_t *output, size_t output_capacity,
                            size_t *compressed_lengths) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    if (deflateInit2(&stream, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }
    size_t in_offset = 0;
    size_t out_offset = 0;
    for (size_t i = 0; i < count; i++) {
        stream.next_in = (Bytef *)(input + in_offset);
        stream.avail_in = (uInt)lengths[i];
        stream.next_out = output + out_offset;
        stream.avail_out = (uInt)(output_capacity - out_offset);
        if (deflate(&stream, Z_SYNC_FLUSH) != Z_OK || stream.avail_in != 0 || stream.avail_out == 0) {
            deflateEnd(&stream);
            return -1;
        }
        size_t produced = (size_t)(output_capacity - out_offset) - stream.avail_out;
        compressed_lengths[i] = produced;
        in_offset += lengths[i];
        out_offset += produced;
    }
    deflateEnd(&stream);
    return (long)out_offset;
}

long zlib_baseline_inflate(const uint8_t *input, const size_t *lengths, size_t count, uint8_t *scratch,
                           size_t scratch_capacity) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    if (inflateInit2(&stream, 15) != Z_OK) {
        return -1;
    }
    size_t in_offset = 0;
    long total = 0;
    for (size_t i = 0; i < count; i++) {
        stream.next_in = (Bytef *)(input + in_offset);
        stream.avail_in = (uInt)lengths[i];
        stream.next_out = scratch;
        stream.avail_out = (uInt)scratch_capacity;
        int rc = inflate(&stream, Z_SYNC_FLUSH);
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || stream.avail_in != 0 || stream.avail_out == 0) {
            inflateEnd(&stream);
            return -1;
        }
        total += (long)(scratch_capacity - stream.avail_out);
        in_offset += lengths[i];
    }
    inflateEnd(&stream);
    return total;
}
