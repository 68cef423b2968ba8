#ifndef SWIFT_SPDY_CZLIB_SHIM_H
#define SWIFT_SPDY_CZLIB_SHIM_H

#include <zlib.h>

/* deflateInit2 and inflateInit are macros in zlib.h; Swift cannot call C
   macros, so these inline wrappers expose them as functions. */

static inline int czlib_deflate_init(z_streamp stream, int level,
                                     int window_bits, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, mem_level,
                        Z_DEFAULT_STRATEGY);
}

static inline int czlib_inflate_init(z_streamp stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}

#endif
