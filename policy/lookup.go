package policy

// Lookup follows keys through nested JSON objects the way the decision reads a request:
// anything that is not an object on the way makes the path absent. Replay reads recorded
// tool-call arguments with it.
func Lookup(v any, keys ...string) (any, bool) { return lookup(v, keys...) }
