import Foundation
import NIOCore
import NIOHTTP1

/// The part of the Kubernetes API that kubectl reads before exec, attach, cp and
/// port-forward: version, discovery, and the one pod. Everything else is a 404 `Status`.
final class KubeAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let pod: PodIdentity
    private var head: HTTPRequestHead?

    init(pod: PodIdentity) {
        self.pod = pod
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let (status, body) = answer(head)
            respond(context: context, head: head, status: status, body: body)
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        guard head.method == .GET || head.method == .HEAD else {
            if let target = PodTarget(path: path), target.namespace == pod.namespace, target.name == pod.name {
                // An exec, attach or portforward request without the SPDY upgrade (a
                // WebSocket attempt): a complete refusal makes kubectl fall back to SPDY.
                return (.badRequest, Self.status(400, "BadRequest", "upgrade to SPDY/3.1 required"))
            }
            return (.methodNotAllowed, Self.status(405, "MethodNotAllowed", "the server does not allow this method"))
        }
        switch path {
        case "/version":
            return (.ok, #"{"major":"1","minor":"32","gitVersion":"v1.32.0","platform":"linux/amd64"}"#)
        case "/api":
            return (.ok, #"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#)
        case "/apis":
            return (.ok, #"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#)
        case "/api/v1":
            return (.ok, Self.resources)
        case "/api/v1/namespaces/\(pod.namespace)/pods":
            return (.ok, #"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":["# + pod.json + "]}")
        case "/api/v1/namespaces/\(pod.namespace)/pods/\(pod.name)":
            return (.ok, pod.json)
        default:
            if let target = PodTarget(path: path) {
                return (
                    .notFound,
                    Self.status(404, "NotFound", "pods \"\(target.name)\" not found", name: target.name, kind: "pods")
                )
            }
            return (.notFound, Self.status(404, "NotFound", "the server could not find the requested resource"))
        }
    }

    private func respond(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, body: String
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    static func status(_ code: Int, _ reason: String, _ message: String, name: String? = nil, kind: String? = nil)
        -> String
    {
        var details = ""
        if let name, let kind { details = #","details":{"name":"# + json(name) + #","kind":"# + json(kind) + "}" }
        return #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"# + json(message)
            + #","reason":"# + json(reason) + details + #","code":"# + String(code) + "}"
    }

    static func json(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data(#""""#.utf8), as: UTF8.self)
    }

    static let resources = #"""
        {"kind":"APIResourceList","groupVersion":"v1","resources":[\#
        {"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["get","list"],"shortNames":["ns"]},\#
        {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"],"categories":["all"]},\#
        {"name":"pods/attach","singularName":"","namespaced":true,"kind":"PodAttachOptions","verbs":["create","get"]},\#
        {"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},\#
        {"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]}
        """#
}

/// The pod kube-pod pretends to run.
struct PodIdentity: Sendable {
    var name: String
    var namespace: String
    var container = "main"
    let uid = UUID().uuidString.lowercased()
    let started = ISO8601DateFormatter().string(from: Date())

    /// The pod as kubectl reads it: running, one container with stdin open (so that
    /// `kubectl attach -i` may send to it).
    var json: String {
        #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"# + KubeAPIHandler.json(name) + #","namespace":"#
            + KubeAPIHandler.json(namespace) + #","uid":""# + uid + #"","creationTimestamp":""# + started
            + #""},"spec":{"containers":[{"name":"# + KubeAPIHandler.json(container)
            + #","image":"swift-spdy/kube-pod","stdin":true,"tty":false}]},"status":{"phase":"Running","#
            + #""conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"#
            + KubeAPIHandler.json(container)
            + #","ready":true,"started":true,"restartCount":0,"image":"swift-spdy/kube-pod","#
            + #""imageID":"","state":{"running":{"startedAt":""# + started + #""}}}]}}"#
    }
}

/// `/api/v1/namespaces/NS/pods/NAME[/SUBRESOURCE]`.
struct PodTarget: Equatable {
    var namespace: String
    var name: String
    var subresource: String?

    init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 7 || parts.count == 8, parts[0] == "", parts[1] == "api", parts[2] == "v1",
            parts[3] == "namespaces", parts[5] == "pods"
        else { return nil }
        namespace = parts[4]
        name = parts[6]
        subresource = parts.count == 8 ? parts[7] : nil
    }
}
