import Crypto
import Foundation
import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import SwiftASN1
import Testing
import X509

@Suite("TLS identities")
struct TLSIdentityTests {
    /// Writes a CA-less self-signed certificate and its key as PEM files, as `openssl req -x509` would.
    func writePEM(commonName: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-60),
            notValidAfter: Date().addingTimeInterval(3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try .init {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                SubjectAlternativeNames([.dnsName(commonName)])
            },
            issuerPrivateKey: .init(key)
        )
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spdy-pem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificatePath = directory.appendingPathComponent("cert.pem").path
        let keyPath = directory.appendingPathComponent("key.pem").path
        try certificate.serializeAsPEM().pemString.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
        return (certificatePath, keyPath)
    }

    @Test("A server loads its certificate and key from PEM files; a client trusting it connects by name")
    func pemFiles() async throws {
        let (certificatePath, keyPath) = try writePEM(commonName: "localhost")
        let identity = try SPDYTLS.Identity.pem(certificatePath: certificatePath, keyPath: keyPath)
        #expect(identity.certificateChain.count == 1)
        let harness = try Harness.start(
            .tls(identity, versions: SPDYVersion.negotiationPreference),
            client: .init(trustRoots: identity.certificateChain)
        )
        let connection = try await harness.client.connect(host: "localhost", port: harness.port)
        #expect(connection.version == .v3_1)
        let response = try await connection.request(SPDYClientRequest(path: "/pem", authority: "localhost"))
        #expect(response.statusCode == 200)
        try await harness.stop()
    }

    @Test("Missing or malformed PEM files give a clear error")
    func badPEM() throws {
        #expect(throws: SPDYTLS.SetupError.self) {
            _ = try SPDYTLS.Identity.pem(certificatePath: "/nonexistent/cert.pem", keyPath: "/nonexistent/key.pem")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).pem").path
        try "not a certificate".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: SPDYTLS.SetupError.self) {
            _ = try SPDYTLS.Identity.pem(certificatePath: path, keyPath: path)
        }
    }

    @Test("The ephemeral certificate is fresh each time and names localhost and the loopback addresses")
    func selfSigned() throws {
        let a = try SPDYTLS.Identity.selfSigned()
        let b = try SPDYTLS.Identity.selfSigned(commonName: "dev.example")
        #expect(try a.certificateChain[0].toDERBytes() != b.certificateChain[0].toDERBytes())
        let certificate = try Certificate(derEncoded: try b.certificateChain[0].toDERBytes())
        let names = Array(try #require(try certificate.extensions.subjectAlternativeNames))
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.dnsName("dev.example")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
    }
}
