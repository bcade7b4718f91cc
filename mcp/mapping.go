package mcp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentctl/agentctl/policy"
)

// HintsOf returns a tool's annotations with the MCP specification's defaults applied:
// readOnlyHint false, destructiveHint true, idempotentHint false, openWorldHint true. The
// defaults are the worst case, so a tool that says nothing is treated as destructive and
// open-world.
func HintsOf(t *sdk.Tool) policy.Hints {
	h := worstCase
	if a := t.Annotations; a != nil {
		h.ReadOnly, h.Idempotent = a.ReadOnlyHint, a.IdempotentHint
		if a.DestructiveHint != nil {
			h.Destructive = *a.DestructiveHint
		}
		if a.OpenWorldHint != nil {
			h.OpenWorld = *a.OpenWorldHint
		}
	}
	return h
}

// worstCase are the hints assumed when a server's annotations are ignored.
var worstCase = policy.Hints{Destructive: true, OpenWorld: true}

// EffectOf maps hints to an action effect: read-only tools read; tools that are not
// read-only but say they are not destructive write; every other tool deletes.
func EffectOf(h policy.Hints) string {
	switch {
	case h.ReadOnly:
		return policy.EffectRead
	case !h.Destructive:
		return policy.EffectWrite
	}
	return policy.EffectDelete
}

// because says which annotations an effect was derived from, for the generated comment.
func because(t *sdk.Tool, ignoreHints bool) string {
	a := t.Annotations
	switch {
	case ignoreHints:
		return "annotations ignored (--ignore-hints): worst case assumed"
	case a == nil:
		return "no annotations, MCP defaults assumed (destructive)"
	case a.ReadOnlyHint:
		return "readOnlyHint: true"
	case a.DestructiveHint == nil:
		return "not read-only, destructiveHint absent: MCP default true assumed"
	}
	return fmt.Sprintf("not read-only, destructiveHint: %t", *a.DestructiveHint)
}

// world says where a tool's openWorldHint came from, for the generated comment.
func world(t *sdk.Tool) string {
	switch a := t.Annotations; {
	case a == nil || a.OpenWorldHint == nil:
		return "open world: openWorldHint absent, MCP default true."
	case *a.OpenWorldHint:
		return "open world: openWorldHint: true."
	}
	return "closed world: openWorldHint: false."
}

// PinOf returns the pin of a tool as the server describes it now.
func PinOf(t *sdk.Tool) policy.Pin {
	var meta any
	if t.Meta != nil {
		meta = map[string]any(t.Meta)
	}
	return policy.Pin{
		Version:      policy.PinVersion,
		Tool:         t.Name,
		Description:  digest([]byte(t.Description)),
		InputSchema:  SchemaDigest(t.InputSchema),
		Title:        digest([]byte(t.Title)),
		OutputSchema: SchemaDigest(t.OutputSchema),
		Meta:         SchemaDigest(meta),
		Hints:        HintsOf(t),
	}
}

// SchemaDigest hashes the canonical JSON of an input schema: keys sorted (encoding/json
// sorts map keys), no insignificant space.
func SchemaDigest(schema any) string {
	data, err := json.Marshal(schema)
	if err != nil {
		// A schema decoded from JSON always encodes again; hash the error text so the pin
		// still changes when the schema does.
		data = []byte("unencodable: " + err.Error())
	}
	return digest(data)
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// ActionName turns an MCP tool name into an agentctl action name (^[a-z][a-z0-9_-]{0,62}$):
// camelCase becomes snake_case, other characters become "_", a name not starting with a
// letter gets the prefix "t_". The pin keeps the server's name.
func ActionName(tool string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range tool {
		switch {
		case 'A' <= r && r <= 'Z':
			if 'a' <= prev && prev <= 'z' || '0' <= prev && prev <= '9' {
				b.WriteByte('_')
			}
			b.WriteRune(r + 'a' - 'A')
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		prev = r
	}
	name := b.String()
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "t_" + name
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}
