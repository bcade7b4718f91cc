package schema

// UserPath renders a CUE error path the way users write it in messages, with list indexes in
// brackets (agents.billing.grants[2].tool), keys that are not plain names quoted, and without
// the schema's #Policy root. The repository configuration (package config) words its errors
// the same way.
func UserPath(sel []string) string {
	_, shown := userPath(sel)
	return shown
}
