package compile

import "bytes"

// IsArchive reports whether head, the first bytes of a file, starts like a bundle Archive
// writes (gzip), so that compile may replace an earlier bundle inside the policy directory
// but nothing else there.
func IsArchive(head []byte) bool { return bytes.HasPrefix(head, []byte{0x1f, 0x8b}) }
