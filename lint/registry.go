package lint

import (
	"fmt"
	"strings"
)

// Checks returns every check of the catalogue, in ID order. Each call returns a new slice of
// the same check values.
func Checks() []*Check {
	return []*Check{
		MissingWorkloadIdentity, // AC001
		SharedIdentity,          // AC002
		LongLivedCredential,     // AC003
		CredentialOutlivesTask,  // AC004
		SharedToolToken,         // AC005

		WildcardGrant,   // AC010
		WriteWithoutJIT, // AC011

		HighRiskWithoutApproval, // AC020
		ApprovalWithoutTimeout,  // AC021
		AgentAsApprover,         // AC022

		CredentialForwarding,        // AC030
		PrivilegeMultiplyingHandoff, // AC031
		HandoffCycle,                // AC032
		ChainExceedsDepth,           // AC033
		LethalTrifecta,              // AC034
		UntrustedCodeExecution,      // AC035
		PoisonableMemory,            // AC036

		ThirdPartyToolWrite, // AC040
		MCPToolUnpinned,     // AC041

		AuditDisabled,            // AC050
		MissingOwner,             // AC051
		NoSessionLimits,          // AC052
		SuppressionWithoutReason, // AC053
		UnknownSuppression,       // AC054
	}
}

// Lookup returns the check with this ID or slug (IDs are matched case-insensitively), or nil.
func Lookup(name string) *Check {
	for _, c := range Checks() {
		if strings.EqualFold(c.ID, name) || c.Slug == name {
			return c
		}
	}
	return nil
}

// Select returns the checks named by include (all when empty) minus those named by skip,
// empty (not nil) when skip names them all. Names are IDs or slugs; an unknown name is an
// error.
func Select(include, skip []string) ([]*Check, error) {
	resolve := func(names []string) (map[*Check]bool, error) {
		set := map[*Check]bool{}
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			c := Lookup(n)
			if c == nil {
				return nil, fmt.Errorf("unknown check %q (see 'agentctl checks')", n)
			}
			set[c] = true
		}
		return set, nil
	}
	in, err := resolve(include)
	if err != nil {
		return nil, err
	}
	out, err := resolve(skip)
	if err != nil {
		return nil, err
	}
	checks := []*Check{} // never nil: Options.Checks nil would run every check
	for _, c := range Checks() {
		if (len(in) == 0 || in[c]) && !out[c] {
			checks = append(checks, c)
		}
	}
	return checks, nil
}
