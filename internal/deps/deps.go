// Package deps pins the chosen modules in go.mod while the packages that use them are being
// written. Remove once every module is imported elsewhere.
package deps

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/open-policy-agent/opa/v1/bundle"
	_ "github.com/open-policy-agent/opa/v1/format"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/open-policy-agent/opa/v1/tester"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/xeipuuv/gojsonschema"
)
