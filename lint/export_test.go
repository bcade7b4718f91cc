package lint

// Root exposes root to the external tests.
var Root = root
