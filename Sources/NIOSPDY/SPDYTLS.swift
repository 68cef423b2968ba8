import Crypto
import Foundation
import NIOCore
import NIOSSL
import SPDY
import SwiftASN1
import X509

/// TLS settings of a SPDY server or client: SPDY versions are negotiated with ALPN.
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

    /// The ALPN protocol names for `versions`, most preferred first.
    public static func protocolNames(_ versions: [SPDYVersion] = SPDYVersion.negotiationPreference) -> [String] {
        versions.map(\.protocolName)
    }

    /// A server TLS configuration offering `versions` by ALPN.
    public static func serverConfiguration(
        identity: Identity,
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: identity.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(identity.privateKey)
        )
        configuration.applicationProtocols = protocolNames(versions)
        return configuration
    }

    /// A client TLS configuration offering `versions` by ALPN; with `verifyCertificates`
    /// off the server's certificate is accepted as it is (for self-signed development servers).
    /// `identity`, when given, is the client certificate presented to a server that asks for one.
    public static func clientConfiguration(
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        verifyCertificates: Bool = true,
        trustRoots: [NIOSSLCertificate]? = nil,
        identity: Identity? = nil
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
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
