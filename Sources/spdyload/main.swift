// spdyload: a load generator for SPDY servers (nghttp2's h2load, for SPDY).
import SPDYToolSupport

await ToolMain.run(Spdyload.self)
