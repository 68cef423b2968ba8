import NIOCore

/// Parses the payload of a control frame that carries no header block (RST_STREAM, SETTINGS,
/// NOOP, PING, GOAWAY, WINDOW_UPDATE, CREDENTIAL, and unknown types), checking its length
/// and fields. `layoutVersion` is the version whose layout the frame uses (2 or 3).
enum ControlFramePayloadParser {
    static func parse(
        _ header: SPDYControlFrameHeader,
        payload: ByteBuffer,
        layoutVersion: UInt16
    ) throws(SPDYFrameDecodingError) -> SPDYFrame {
        func invalid(_ message: String) -> SPDYFrameDecodingError {
            SPDYFrameDecodingError(code: .invalidFrame, header: header, payload: payload, message: message)
        }
        var p = payload
        let length = payload.readableBytes
        switch header.type {
        case .synStream, .synReply, .headers:
            throw invalid("the payload of \(length) bytes has no header block")
        case .rstStream:
            guard length == 8, let (id, status) = p.readTwoWords() else {
                throw invalid("RST_STREAM must be 8 bytes long, not \(length)")
            }
            return .rstStream(
                SPDYFrame.RstStream(streamID: SPDYStreamID(masking: id), status: SPDYStreamStatus(rawValue: status))
            )
        case .settings:
            guard length >= 4, let count = p.readInteger(as: UInt32.self) else {
                throw invalid("SETTINGS must be at least 4 bytes long, not \(length)")
            }
            guard UInt64(length) == 4 + 8 * UInt64(count) else {
                throw invalid("SETTINGS of \(length) bytes cannot hold \(count) entries")
            }
            let isV2 = layoutVersion == 2
            var entries: [SPDYFrame.SettingsEntry] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let (idWord, value) = p.readTwoWords()!
                let id: UInt32
                let flags: UInt8
                if isV2 {
                    // SPDY/2 as deployed: 24-bit little-endian ID, then the flags.
                    id = (idWord >> 24) | ((idWord >> 8) & 0xff00) | ((idWord << 8) & 0xff_0000)
                    flags = UInt8(truncatingIfNeeded: idWord)
                } else {
                    id = idWord & 0xff_ffff
                    flags = UInt8(truncatingIfNeeded: idWord >> 24)
                }
                entries.append(
                    SPDYFrame.SettingsEntry(
                        id: SPDYSettingsID(rawValue: id),
                        flags: SPDYSettingsEntryFlags(rawValue: flags),
                        value: value
                    )
                )
            }
            return .settings(SPDYFrame.Settings(flags: SPDYSettingsFlags(rawValue: header.flags), entries: entries))
        case .noop:
            return .noop
        case .ping:
            guard length == 4, let id = p.readInteger(as: UInt32.self) else {
                throw invalid("PING must be 4 bytes long, not \(length)")
            }
            return .ping(SPDYFrame.Ping(id: id))
        case .goAway:
            if layoutVersion == 2 {
                guard length == 4, let id = p.readInteger(as: UInt32.self) else {
                    throw invalid("a SPDY/2 GOAWAY must be 4 bytes long, not \(length)")
                }
                return .goAway(SPDYFrame.GoAway(lastGoodStreamID: SPDYStreamID(masking: id)))
            }
            guard length == 8, let (id, status) = p.readTwoWords() else {
                throw invalid("a SPDY/3 GOAWAY must be 8 bytes long, not \(length)")
            }
            return .goAway(
                SPDYFrame.GoAway(
                    lastGoodStreamID: SPDYStreamID(masking: id),
                    status: SPDYGoAwayStatus(rawValue: status)
                )
            )
        case .windowUpdate:
            guard length == 8, let (id, delta) = p.readTwoWords() else {
                throw invalid("WINDOW_UPDATE must be 8 bytes long, not \(length)")
            }
            return .windowUpdate(
                SPDYFrame.WindowUpdate(streamID: SPDYStreamID(masking: id), deltaWindowSize: delta & 0x7fff_ffff)
            )
        case .credential:
            guard length >= 10, let (slot, proofLength) = p.readMultipleIntegers(as: (UInt16, UInt32).self) else {
                throw invalid("CREDENTIAL must be at least 10 bytes long, not \(length)")
            }
            guard let proof = p.readSlice(length: Int(proofLength)) else {
                throw invalid("the CREDENTIAL proof runs past the frame's end")
            }
            var certificates: [ByteBuffer] = []
            repeat {
                guard let certificateLength = p.readInteger(as: UInt32.self),
                    let certificate = p.readSlice(length: Int(certificateLength))
                else {
                    throw invalid("a CREDENTIAL certificate runs past the frame's end")
                }
                certificates.append(certificate)
            } while p.readableBytes > 0
            return .credential(SPDYFrame.Credential(slot: slot, proof: proof, certificates: certificates))
        default:
            return .unknown(SPDYFrame.UnknownControlFrame(header: header, payload: payload))
        }
    }
}
