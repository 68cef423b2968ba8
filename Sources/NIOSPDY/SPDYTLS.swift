import Crypto
import Foundation
import NIOCore
import NIOSSL
import SPDY
import SwiftASN1
import X509

/// TLS settings of a SPDY server or client: SPDY versions are negotiated with ALPN.
///
/// Both TLS backends (swift-nio-ssl here, the system OpenSSL in `NIOSPDYOpenSSL`) accept
/// TLS 1.2 and 1.3 with forward-secret AEAD cipher suites only, unless a lower
/// `minimumTLSVersion` is given for clients of the SPDY era that know only TLS 1.0 or 1.1.
public enum SPDYTLS {
    /// An error setting up TLS.
    public struct SetupError: Error, CustomStringConvertible, Sendable {
        /// What went wrong.
        public var description: String
    }

    /// A certificate chain and its private key.
    public struct Identity: Sendable {
        /// The chain, leaf first.
        public var certificateChain: [NIOSSLCertificate]
        /// The leaf's private key.
        public var privateKey: NIOSSLPrivateKey

        /// An identity from certificates and a key already loaded.
        public init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }

        /// Loads a PEM certificate chain and a PEM private key from files.
        public static func pem(certificatePath: String, keyPath: String) throws -> Identity {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
                guard !chain.isEmpty else {
                    throw SetupError(description: "no certificate in \(certificatePath)")
                }
                let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
                return Identity(certificateChain: chain, privateKey: key)
            } catch let error as SetupError {
                throw error
            } catch {
                throw SetupError(description: "cannot load \(certificatePath) / \(keyPath): \(error)")
            }
        }

        /// A new self-signed certificate (ECDSA P-256, valid for 30 days) for `localhost`,
        /// 127.0.0.1 and ::1 plus the given names, so a server works on a fresh machine.
        public static func selfSigned(commonName: String = "localhost", extraNames: [String] = []) throws -> Identity {
            let key = P256.Signing.PrivateKey()
            let now = Date()
            let name = try DistinguishedName {
                CommonName(commonName)
                OrganizationName("swift-spdy development certificate")
            }
            var names: [GeneralName] = [
                .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            ]
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))))
            for extra in extraNames + [commonName] where extra != "localhost" {
                names.append(.dnsName(extra))
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(30 * 24 * 3600),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    // Its own issuer: a client that trusts it uses it as the root.
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    KeyUsage(digitalSignature: true, keyCertSign: true)
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let nioCertificate = try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
            let nioKey = try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)
            return Identity(certificateChain: [nioCertificate], privateKey: nioKey)
        }
    }

    /// The ALPN (and NPN) name of HTTP/1.1, offered after the SPDY versions by a server that
    /// serves HTTP/1.1 on the same port.
    public static let http1ProtocolName = SPDYNegotiation.http11ProtocolName

    /// The ALPN protocol names for `versions`, most preferred first, followed by `http/1.1`
    /// when `offeringHTTP1` is set (a SPDY client that also offers it still gets SPDY, since
    /// the server picks its own preference among the client's names).
    public static func protocolNames(
        _ versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        offeringHTTP1: Bool = false
    ) -> [String] {
        SPDYNegotiation.protocolNames(for: versions, offeringHTTP1: offeringHTTP1)
    }

    /// The TLS 1.2 cipher suites of both backends (OpenSSL names): ECDHE key exchange with
    /// AES-GCM or ChaCha20-Poly1305. TLS 1.3 has its own suites, all of them AEAD.
    package static let modernCipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ]

    /// What TLS 1.0 and 1.1, which have no AEAD suites, need on top: ECDHE with AES-CBC and
    /// SHA-1, as the browsers and Android of the SPDY era offer.
    package static let legacyCipherSuites = [
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
    ]

    /// Whether `version` is below TLS 1.2, so that the legacy suites are needed.
    package static func isLegacy(_ version: TLSVersion) -> Bool {
        version == .tlsv1 || version == .tlsv11
    }

    /// The TLS 1.2-and-below cipher list (OpenSSL syntax) for a minimum of `minimumTLSVersion`.
    package static func cipherList(minimumTLSVersion: TLSVersion) -> String {
        let suites = modernCipherSuites + (isLegacy(minimumTLSVersion) ? legacyCipherSuites : [])
        return suites.joined(separator: ":")
    }

    /// How long a closing connection waits for the peer's close_notify after sending its own
    /// (swift-nio-ssl waits 5 seconds by default): 1 second. Nothing is read after our
    /// close_notify, so the wait protects nothing; but a peer that is gone (a dead link, a
    /// client that exited) never answers, and the socket and its buffers would be held for
    /// the whole wait.
    public static let closeNotifyTimeout: TimeAmount = .seconds(1)

    /// A server TLS configuration offering `versions` by ALPN (then `http/1.1` when
    /// `offeringHTTP1` is set, for a port that serves both), accepting TLS
    /// `minimumTLSVersion` (default 1.2) and later with the cipher suites described at
    /// ``SPDYTLS``.
    public static func serverConfiguration(
        identity: Identity,
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        minimumTLSVersion: TLSVersion = .tlsv12,
        offeringHTTP1: Bool = false
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: identity.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(identity.privateKey)
        )
        configuration.applicationProtocols = protocolNames(versions, offeringHTTP1: offeringHTTP1)
        configuration.shutdownTimeout = closeNotifyTimeout
        configuration.minimumTLSVersion = minimumTLSVersion
        configuration.cipherSuites = cipherList(minimumTLSVersion: minimumTLSVersion)
        return configuration
    }

    /// A client TLS configuration offering `versions` by ALPN; with `verifyCertificates`
    /// off the server's certificate is accepted as it is (for self-signed development servers).
    /// `identity`, when given, is the client certificate presented to a server that asks for one.
    /// It accepts TLS `minimumTLSVersion` (default 1.2) and later with the cipher suites
    /// described at ``SPDYTLS``.
    public static func clientConfiguration(
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        verifyCertificates: Bool = true,
        trustRoots: [NIOSSLCertificate]? = nil,
        identity: Identity? = nil,
        minimumTLSVersion: TLSVersion = .tlsv12
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.shutdownTimeout = closeNotifyTimeout
        configuration.minimumTLSVersion = minimumTLSVersion
        configuration.cipherSuites = cipherList(minimumTLSVersion: minimumTLSVersion)
        if let identity {
            configuration.certificateChain = identity.certificateChain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.privateKey)
        }
        configuration.applicationProtocols = protocolNames(versions)
        if !verifyCertificates {
            configuration.certificateVerification = .none
        }
        if let trustRoots {
            configuration.trustRoots = .certificates(trustRoots)
        }
        return configuration
    }
}
