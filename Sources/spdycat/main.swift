// spdycat: a SPDY client that prints or saves the bodies of the URIs it fetches.
import SPDYToolSupport

await ToolMain.run(Spdycat.self)
