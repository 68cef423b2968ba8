import SPDYToolSupport

await ToolMain.run(SPDYProxyCommand.self)
