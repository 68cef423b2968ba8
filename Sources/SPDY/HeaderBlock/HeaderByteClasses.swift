/// The eight bytes at `p` (which must all be loadable) as a little-endian word,
/// with the bytes from `count` (1–8) on replaced by `a`, which every rule allows.
@inline(__always)
func loadPadded(_ p: UnsafeRawPointer, _ count: Int) -> UInt64 {
    let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    if count >= 8 { return word }
    let mask: UInt64 = (1 << (UInt64(truncatingIfNeeded: count) &* 8)) &- 1
    return (word & mask) | (0x6161_6161_6161_6161 & ~mask)
}

/// Whether the eight bytes of `word` may hold a byte that is not allowed in a
/// received name: `false` proves that all are within 0x20–0x7e and none is `A`–`Z`.
@inline(__always)
func wordMayHoldNonNameByte(_ word: UInt64) -> Bool {
    nonNameByteBits(word) != 0
}

/// Nonzero if the eight bytes of `word` may hold a byte that is not allowed in
/// a received name; the high bit of a byte is only set if that byte or an
/// earlier one (in memory order) is not allowed, so masking the result to the
/// first bytes answers for those bytes alone.
@inline(__always)
func nonNameByteBits(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let low7 = word & 0x7f7f_7f7f_7f7f_7f7f
    // 0x7f–0xff: the high bit, or the low seven bits all set. No carries cross bytes.
    let high = (word | (low7 &+ ones)) & highs
    // Below 0x20 (exact as a yes/no: a borrow only follows a byte below 0x20).
    let below20 = (word &- ones &* 0x20) & ~word & highs
    // 0x41–0x5a, exactly per byte ("hasbetween" of Bit Twiddling Hacks, m = 0x40, n = 0x5b).
    let upper = ((ones &* (127 + 0x5b)) &- low7) & ~word & (low7 &+ ones &* (127 - 0x40)) & highs
    return high | below20 | upper
}

/// Whether `c` may appear in a received name: 0x20–0x7e except `A`–`Z`.
@inline(__always)
func isReceivedNameByte(_ c: UInt8) -> Bool {
    c &- 0x20 <= 0x5e && c &- 0x41 >= 26
}

/// Whether `c` may appear in a value as is: HT, 0x20–0x7e and 0x80–0xff (not
/// NUL, which separates values, nor other control bytes or DEL).
@inline(__always)
func isPlainValueByte(_ c: UInt8) -> Bool {
    (c >= 0x20 && c != 0x7f) || c == 0x09
}

/// Nonzero if the eight bytes of `word` may hold a byte that is not a plain
/// value byte: zero proves that none is below 0x20 or equal to 0x7f.
@inline(__always)
func specialValueByteBits(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    // A byte below 0x20 borrows into its high bit; so does 0x7f xor 0x7f = 0.
    let below20 = (word &- ones &* 0x20) & ~word & highs
    let del = word ^ (ones &* 0x7f)
    let isDel = (del &- ones) & ~del & highs
    return below20 | isDel
}
