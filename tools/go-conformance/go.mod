module slipway/tools/go-conformance

go 1.19
