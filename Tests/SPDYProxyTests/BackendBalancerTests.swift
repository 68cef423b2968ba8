import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import SPDYProxy

@Suite("Proxy: backend balancing")
struct BackendBalancerTests {
    let backends = [
        SPDYProxyConfiguration.Backend(host: "a", port: 1),
        SPDYProxyConfiguration.Backend(host: "b", port: 2),
        SPDYProxyConfiguration.Backend(host: "c", port: 3),
    ]

    @Test("Backends are taken in turn")
    func roundRobin() {
        let balancer = BackendBalancer(backends: backends, retryDelay: .seconds(2))
        #expect(balancer.order() == [0, 1, 2])
        #expect(balancer.order() == [1, 2, 0])
        #expect(balancer.order() == [2, 0, 1])
        #expect(balancer.order() == [0, 1, 2])
    }

    @Test("A backend that refused is tried last for the retry delay, then in turn again")
    func refusedBackendWaits() {
        let time = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(1_000_000_000))
        let balancer = BackendBalancer(backends: backends, retryDelay: .seconds(2)) {
            time.withLockedValue { $0 }
        }
        balancer.markDown(0)
        #expect(balancer.order() == [1, 2, 0])
        time.withLockedValue { $0 = $0 + .milliseconds(1999) }
        #expect(balancer.order() == [1, 2, 0])
        #expect(balancer.order() == [2, 1, 0])
        time.withLockedValue { $0 = $0 + .milliseconds(2) }
        #expect(balancer.order() == [0, 1, 2])
        balancer.markDown(1)
        balancer.markUp(1)
        #expect(balancer.order() == [1, 2, 0])
    }
}
