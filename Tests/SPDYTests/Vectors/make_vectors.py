#!/usr/bin/env python3
"""Writes the golden frames of GoldenVectorTests.swift and ZlibInteropTests.swift as JSON files.

Every frame is laid out here by hand from the SPDY drafts (draft 2 and draft 3;
SPDY/3.1 frames are SPDY/3 frames on the wire). The name/value header blocks are
built by hand too (v2: 16-bit big-endian count and lengths, v3: 32-bit; names
lowercased and sorted, equal names merged with NUL) and compressed with Python's
zlib, an implementation independent of the library under test:

    zlib.compressobj(level, zlib.DEFLATED, wbits, memlevel, strategy, zdict=<dictionary>)
    ... .compress(block) + .flush(zlib.Z_SYNC_FLUSH)

One compressobj is one session's header compression: frames of a sequence share it,
so a later frame's bytes depend on the earlier ones (as they do on the wire).

Output (next to this script, resources of the SPDYTests target, see Package.swift):
    golden.json    the frames GoldenVectorTests.swift reads (its GoldenBytes names)
    interop.json   the frames ZlibInteropTests.swift reads (its PeerFrames names)
Each file maps a frame's name to its parts (control header, fixed fields, deflated
header block: "hex" bytes, "what" a description); the frame is the parts' bytes in
order. "nameValueBlock" (the uncompressed block) and "note" are documentation only.

Usage (from anywhere; Python 3.8 or later, standard library only):
    python3 Tests/SPDYTests/Vectors/make_vectors.py            # writes both files
    python3 Tests/SPDYTests/Vectors/make_vectors.py golden     # writes golden.json only
    python3 Tests/SPDYTests/Vectors/make_vectors.py interop    # writes interop.json only
    python3 Tests/SPDYTests/Vectors/make_vectors.py --check    # exit 1 if a file differs

Requirements:
  - python3 with its zlib module (built in on Debian: python3-minimal / libpython3-stdlib;
    nothing to install with pip). The compressed bytes were made with zlib 1.2.13, the
    "zlib" field of each file; another zlib release may compress levels 1-9 differently,
    which --check reports.
  - The SPDY/2 and SPDY/3 zlib dictionaries as raw files spdy2_dict.bin (907 bytes) and
    spdy3_dict.bin (1423 bytes) in $SPDY_REFERENCE_DIR (default /work/shared/reference).
    They are not on a fresh machine: copy them there, or point SPDY_REFERENCE_DIR at
    a folder holding them (the script checks their length and Adler-32).

The tests do not need Python: they read the JSON files (Bundle.module), and a file
that is missing or malformed, or lacks a frame, fails the tests that use it.
"""

import json
import os
import struct
import sys
import zlib

REFERENCE = os.environ.get("SPDY_REFERENCE_DIR", "/work/shared/reference")


def load_dictionary(name, expected_length, expected_adler):
    with open(os.path.join(REFERENCE, name), "rb") as f:
        data = f.read()
    assert len(data) == expected_length, (name, len(data))
    assert zlib.adler32(data) == expected_adler, (name, hex(zlib.adler32(data)))
    return data


SPDY2_DICT = load_dictionary("spdy2_dict.bin", 907, 0xDFA251B2)
SPDY3_DICT = load_dictionary("spdy3_dict.bin", 1423, 0xE3C6A7C2)

# Frame types (draft 2 section 2.7 and draft 3 section 2.6).
SYN_STREAM, SYN_REPLY, HEADERS = 1, 2, 8
TYPE_NAMES = {SYN_STREAM: "SYN_STREAM", SYN_REPLY: "SYN_REPLY", HEADERS: "HEADERS"}

# The SPDY/3 names the API uses and their SPDY/2 spellings.
SPDY2_NAMES = {
    ":host": "host",
    ":method": "method",
    ":path": "url",
    ":scheme": "scheme",
    ":status": "status",
    ":version": "version",
}


def nv_block(pairs, version):
    """The uncompressed name/value block of `pairs` (API names) for `version` (2 or 3)."""
    normalized = []
    for name, value in pairs:
        name = name.lower()
        if version == 2:
            name = SPDY2_NAMES.get(name, name)
        normalized.append((name.encode(), value.encode()))
    normalized.sort(key=lambda pair: pair[0])  # stable, byte order
    merged = []
    for name, value in normalized:
        if merged and merged[-1][0] == name:
            values = merged[-1][1]
            if value:
                values.append(value)
        else:
            merged.append((name, [value] if value else []))
    fmt = ">H" if version == 2 else ">I"
    out = bytearray(struct.pack(fmt, len(merged)))
    for name, values in merged:
        value = b"\0".join(values)
        out += struct.pack(fmt, len(name)) + name + struct.pack(fmt, len(value)) + value
    return bytes(out)


def control_header(version, frame_type, flags, length):
    """C=1, version(15), type(16), flags(8), length(24)."""
    assert length < 1 << 24
    return struct.pack(">HHI", 0x8000 | version, frame_type, flags << 24 | length)


def fixed_fields(version, frame_type, stream_id, assoc=0, priority=0, slot=0):
    if frame_type == SYN_STREAM:
        # X + Stream-ID(31), X + Associated-To-Stream-ID(31), Pri, then unused bits (v2) or Slot (v3).
        if version == 2:
            return struct.pack(">IIBB", stream_id, assoc, priority << 6, 0)
        return struct.pack(">IIBB", stream_id, assoc, priority << 5, slot)
    # SYN_REPLY and HEADERS: X + Stream-ID(31); SPDY/2 adds 16 unused bits.
    if version == 2:
        return struct.pack(">IH", stream_id, 0)
    return struct.pack(">I", stream_id)


class Session:
    """One direction of one connection: a persistent deflate stream."""

    def __init__(self, version, level, wbits=11, memlevel=1, strategy=zlib.Z_DEFAULT_STRATEGY, zdict=None):
        self.version = version
        if zdict is None:
            zdict = SPDY2_DICT if version == 2 else SPDY3_DICT
        self.zdict_name = "SPDY/2" if zdict is SPDY2_DICT else "SPDY/3" if zdict is SPDY3_DICT else "custom"
        self.settings = "level %d, wbits %d, memLevel %d, strategy %d, %s dictionary" % (
            level,
            wbits,
            memlevel,
            strategy,
            self.zdict_name,
        )
        self.deflater = zlib.compressobj(level, zlib.DEFLATED, wbits, memlevel, strategy, zdict=zdict)

    def frame(self, frame_type, flags, stream_id, headers, assoc=0, priority=0, slot=0, nv_version=None):
        block = nv_block(headers, nv_version or self.version)
        compressed = self.deflater.compress(block) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        fixed = fixed_fields(self.version, frame_type, stream_id, assoc, priority, slot)
        header = control_header(self.version, frame_type, flags, len(fixed) + len(compressed))
        return header, fixed, compressed, block


def describe_fixed(version, frame_type, stream_id, assoc, priority, slot):
    if frame_type == SYN_STREAM:
        if version == 2:
            return "Stream-ID %d, Associated-To-Stream-ID %d, Pri %d << 6, 8 unused bits" % (stream_id, assoc, priority)
        return "Stream-ID %d, Associated-To-Stream-ID %d, Pri %d << 5, Slot %d" % (stream_id, assoc, priority, slot)
    if version == 2:
        return "Stream-ID %d, 16 unused bits" % stream_id
    return "Stream-ID %d" % stream_id


def emit(frames, name, session, frame_type, flags, stream_id, headers, assoc=0, priority=0, slot=0, note=None):
    """Adds frame `name` to `frames`: its parts, described, and its uncompressed block."""
    assert name not in frames, name
    header, fixed, compressed, block = session.frame(frame_type, flags, stream_id, headers, assoc, priority, slot)
    length = len(fixed) + len(compressed)
    frames[name] = {
        "note": note,
        "parts": [
            {
                "what": "Control header: C=1, version %d, type %d (%s), flags 0x%02x, length %d"
                % (session.version, frame_type, TYPE_NAMES[frame_type], flags, length),
                "hex": header.hex(),
            },
            {
                "what": describe_fixed(session.version, frame_type, stream_id, assoc, priority, slot),
                "hex": fixed.hex(),
            },
            {
                "what": "Header block deflated by Python zlib %s: %s" % (zlib.ZLIB_RUNTIME_VERSION, session.settings),
                "hex": compressed.hex(),
            },
        ],
        "nameValueBlock": {"length": len(block), "hex": block.hex()},
    }


REQUEST_V = [
    (":method", "GET"),
    (":path", "/index.html"),
    (":version", "HTTP/1.1"),
    (":host", "example.com"),
    (":scheme", "https"),
    ("accept", "*/*"),
    ("x-head", "foo"),
    ("x-head", "bar"),
]
UPLOAD = [
    (":method", "POST"),
    (":path", "/upload"),
    (":version", "HTTP/1.1"),
    (":host", "example.com"),
    (":scheme", "https"),
    ("content-type", "text/plain"),
]
UPLOAD_TRAILER = [("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="), ("x-trailer", "done")]
REPLY = [(":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/html"), ("server", "swift-spdy")]
REPLY_MORE = [("content-type", "text/html"), ("server", "swift-spdy"), ("x-extra", "swift-spdy, text/html")]
PUSH = [
    (":status", "200 OK"),
    (":version", "HTTP/1.1"),
    (":host", "example.com"),
    (":scheme", "https"),
    (":path", "/style.css"),
    ("content-type", "text/css"),
]


def golden():
    """The frames of GoldenVectorTests.swift (GoldenBytes)."""
    frames = {}
    # SPDY/2, client defaults (level 0).
    s = Session(2, 0)
    emit(
        frames,
        "v2ClientSynStreamFin",
        s,
        SYN_STREAM,
        0x01,
        65536,
        REQUEST_V,
        assoc=1000000007,
        priority=3,
        note="SPDY/2 client (level 0), fresh session: SYN_STREAM 65536, assoc 1000000007, pri 3, FIN.",
    )
    s = Session(2, 0)
    emit(frames, "v2ClientSeq1SynStream", s, SYN_STREAM, 0x00, 1, UPLOAD, priority=1, note="SPDY/2 client sequence, frame 1.")
    emit(frames, "v2ClientSeq2Headers", s, HEADERS, 0x01, 1, UPLOAD_TRAILER, note="SPDY/2 client sequence, frame 2 (FIN).")
    # SPDY/2, server defaults (level 9).
    s = Session(2, 9)
    emit(frames, "v2ServerSeq1SynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/2 server sequence, frame 1.")
    emit(frames, "v2ServerSeq2Headers", s, HEADERS, 0x01, 1, REPLY_MORE, note="SPDY/2 server sequence, frame 2 (FIN).")
    emit(
        frames,
        "v2ServerSeq3Push",
        s,
        SYN_STREAM,
        0x02,
        2,
        PUSH,
        assoc=1,
        priority=2,
        note="SPDY/2 server sequence, frame 3: pushed SYN_STREAM 2, assoc 1, pri 2, UNIDIRECTIONAL.",
    )
    # SPDY/3 (and 3.1), client defaults (level 0).
    s = Session(3, 0)
    emit(
        frames,
        "v3ClientSynStreamFin",
        s,
        SYN_STREAM,
        0x01,
        65536,
        REQUEST_V,
        assoc=1000000007,
        priority=7,
        note="SPDY/3 client (level 0), fresh session: SYN_STREAM 65536, assoc 1000000007, pri 7, FIN.",
    )
    s = Session(3, 0)
    emit(
        frames,
        "v3ClientSeq1SynStream",
        s,
        SYN_STREAM,
        0x00,
        1,
        UPLOAD,
        priority=2,
        slot=5,
        note="SPDY/3 client sequence, frame 1 (slot 5).",
    )
    emit(frames, "v3ClientSeq2Headers", s, HEADERS, 0x01, 1, UPLOAD_TRAILER, note="SPDY/3 client sequence, frame 2 (FIN).")
    # SPDY/3 (and 3.1), server defaults (level 9).
    s = Session(3, 9)
    emit(frames, "v3ServerSeq1SynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/3 server sequence, frame 1.")
    emit(frames, "v3ServerSeq2Headers", s, HEADERS, 0x01, 1, REPLY_MORE, note="SPDY/3 server sequence, frame 2 (FIN).")
    emit(
        frames,
        "v3ServerSeq3Push",
        s,
        SYN_STREAM,
        0x03,
        2,
        PUSH,
        assoc=1,
        priority=0,
        note="SPDY/3 server sequence, frame 3: pushed SYN_STREAM 2, assoc 1, pri 0, FIN|UNIDIRECTIONAL.",
    )
    return frames


def interop():
    """The frames of ZlibInteropTests.swift (PeerFrames)."""
    frames = {}
    # A peer compressing at level 9 with a 32 KiB window and default memLevel.
    s = Session(3, 9, wbits=15, memlevel=8)
    emit(frames, "v3Level9Window15SynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/3 peer, level 9, window bits 15.")
    # A level-6 peer: a two-frame sequence on one stream (the second depends on the first).
    s = Session(3, 6, wbits=15, memlevel=8)
    emit(frames, "v3Level6Seq1SynStream", s, SYN_STREAM, 0x00, 1, UPLOAD, priority=3, note="SPDY/3 peer, level 6, frame 1.")
    emit(frames, "v3Level6Seq2Headers", s, HEADERS, 0x01, 1, UPLOAD_TRAILER, note="SPDY/3 peer, level 6, frame 2.")
    emit(frames, "v3Level6Seq3Headers", s, HEADERS, 0x00, 3, UPLOAD_TRAILER, note="SPDY/3 peer, level 6, frame 3 (repeat).")
    # A SPDY/2 peer at level 6, window bits 15, writing SPDY/2 names.
    s = Session(2, 6, wbits=15, memlevel=8)
    emit(frames, "v2Level6SynStream", s, SYN_STREAM, 0x01, 1, REQUEST_V, priority=0, note="SPDY/2 peer, level 6, window 15.")
    emit(frames, "v2Level6SynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/2 peer, level 6, frame 2.")
    # Other strategies and memory levels.
    s = Session(3, 1, wbits=9, memlevel=9, strategy=zlib.Z_FILTERED)
    emit(frames, "v3Level1FilteredSynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/3 peer, level 1, Z_FILTERED, window 9.")
    s = Session(3, 9, wbits=15, memlevel=8, strategy=zlib.Z_HUFFMAN_ONLY)
    emit(frames, "v3HuffmanOnlySynReply", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/3 peer, Z_HUFFMAN_ONLY.")
    # Wrong dictionaries: the SPDY/2 dictionary in a SPDY/3 session and vice versa.
    s = Session(3, 9, zdict=SPDY2_DICT)
    emit(frames, "v3FrameWithSPDY2Dictionary", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/3 frame deflated with the v2 dict.")
    s = Session(2, 9, zdict=SPDY3_DICT)
    emit(frames, "v2FrameWithSPDY3Dictionary", s, SYN_REPLY, 0x00, 1, REPLY, note="SPDY/2 frame deflated with the v3 dict.")
    return frames


GENERATORS = {"golden": golden, "interop": interop}
HERE = os.path.dirname(os.path.abspath(__file__))


def render(which):
    """The JSON text of `which`.json."""
    document = {
        "generator": "python3 Tests/SPDYTests/Vectors/make_vectors.py %s" % which,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "frames": GENERATORS[which](),
    }
    return json.dumps(document, indent=2) + "\n"


def main(arguments):
    check = "--check" in arguments
    names = [a for a in arguments if a != "--check"] or list(GENERATORS)
    unknown = [name for name in names if name not in GENERATORS]
    if unknown:
        sys.exit("usage: make_vectors.py [--check] [golden] [interop]; unknown: %s" % " ".join(unknown))
    stale = []
    for which in names:
        path = os.path.join(HERE, which + ".json")
        text = render(which)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != text:
                stale.append(path)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote %s" % path)
    if stale:
        sys.exit("out of date (run make_vectors.py): %s" % " ".join(stale))


if __name__ == "__main__":
    main(sys.argv[1:])
