// spdyd: the SPDY file server, after spdylay's spdyd. See Spdyd.swift for the options and
// FileHandler.swift for how requests are answered.

import SPDYToolSupport

await ToolMain.run(Spdyd.self)
