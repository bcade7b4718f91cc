# METADATA
# title: agentctl runtime decision
# description: |
#   Decides one tool call of an AI agent against the policy that agentctl compiled into
#   data.agentctl.model. Operators revoke agents and tasks at data.agentctl_revocations,
#   a root this bundle does not own. The Go reference is policy.Decide; docs/runtime.md
#   states the rules, which both engines implement.
package agentctl

import data.agentctl.model

# decision is the verdict on input (contract shape). Deny by default: allow and
# needs_approval need a well-formed, declared chain and capability and no denial.
decision := {
	"allow": outcome == "allow",
	"outcome": outcome,
	"reasons": reasons,
	"approvals_required": approvals_required,
}

default outcome := "deny"

outcome := "allow" if {
	walkable
	count(denials) == 0
	count(pending) == 0
}

outcome := "needs_approval" if {
	walkable
	count(denials) == 0
	count(pending) > 0
}

reasons := ordered(denials) if {
	count(denials) > 0
} else := ordered({reason("APPROVAL_REQUIRED", msg) |
	some rule in pending
	msg := sprintf("approval rule %q requires %d approver(s) with role %q", [rule.rule, rule.approvers, rule.role])
})

approvals_required := [pending[name] | some name in sort(object.keys(pending))] if {
	outcome == "needs_approval"
} else := []

# Reasons are reported in evaluation order, then by message.
rank := {
	"MALFORMED_REQUEST": 0,
	"UNKNOWN_AGENT": 1,
	"IDENTITY_MISMATCH": 2,
	"UNKNOWN_CAPABILITY": 3,
	"UNDECLARED_HANDOFF": 4,
	"CHAIN_TOO_DEEP": 5,
	"NOT_GRANTED": 6,
	"RESOURCE_NOT_GRANTED": 7,
	"CREDENTIAL_EXPIRED": 8,
	"SESSION_LIMIT": 9,
	"REVOKED": 10,
	"APPROVAL_REQUIRED": 11,
}

ordered(set) := [reason(entry[2], entry[1]) |
	some entry in sort([[rank[r.code], r.message, r.code] | some r in set])
]

reason(code, message) := {"code": code, "message": message}

# Request fields -----------------------------------------------------------------------

# request is the input when it is an object, else the empty object, so that every check
# below has something to look into (an absent input denies).
request := input if {
	input_object
} else := {}

input_object if is_object(input)

# nested(key) is the request's field key, or the empty object when absent.
nested(key) := object.get(request, key, {})

has(object, key) if _ = object[key]

agent := model.agents[request.agent]

capability := concat(".", [request.tool, request.action]) if {
	is_string(request.tool)
	is_string(request.action)
}

# chain is the hand-off chain of the call when well-formed: the request's, else [agent].
chain := request.chain if {
	is_string(request.agent)
	agent_names(request.chain)
	request.chain[count(request.chain) - 1] == request.agent
} else := [request.agent] if {
	is_string(request.agent)
	not has(request, "chain")
}

chain_text := concat(" -> ", chain)

# named holds every agent the request says takes part.
named contains request.agent if is_string(request.agent)

named contains name if {
	is_array(request.chain)
	some name in request.chain
	is_string(name)
}

agent_names(value) if {
	is_array(value)
	count(value) > 0
	every name in value {
		is_string(name)
	}
}

timestamp_ns(value) := time.parse_rfc3339_ns(value) if is_string(value)

now_ns := time.now_ns() if not has(request, "now")

now_ns := timestamp_ns(request.now) if has(request, "now")

# Malformed requests -------------------------------------------------------------------

malformed contains "request must be a JSON object" if not input_object

malformed contains sprintf("%s must be a string", [key]) if {
	some key in ["agent", "tool", "action"]
	not is_string(object.get(request, key, null))
}

malformed contains sprintf("%s must be a string", [key]) if {
	some key in ["identity", "resource", "task"]
	value := request[key]
	not is_string(value)
}

malformed contains sprintf("%s must be an object", [key]) if {
	some key in ["attributes", "credential", "session"]
	value := request[key]
	not is_object(value)
}

malformed contains "approvals must be an array" if {
	value := request.approvals
	not is_array(value)
}

malformed contains "approvals must hold objects with a non-empty string approver, a string role and, if present, a boolean human" if {
	is_array(request.approvals)
	some entry in request.approvals
	not approval_entry(entry)
}

malformed contains "credential.expires_at must be an RFC 3339 timestamp" if {
	value := request.credential.expires_at
	not timestamp_ns(value)
}

malformed contains "session.started_at must be an RFC 3339 timestamp" if {
	value := request.session.started_at
	not timestamp_ns(value)
}

malformed contains "now must be an RFC 3339 timestamp" if {
	value := request.now
	not timestamp_ns(value)
}

malformed contains "session.actions must be a non-negative number" if {
	value := request.session.actions
	not non_negative(value)
}

malformed contains "chain must be a non-empty array of agent names" if {
	value := request.chain
	not agent_names(value)
}

malformed contains "chain must end with the agent" if {
	is_string(request.agent)
	agent_names(request.chain)
	request.chain[count(request.chain) - 1] != request.agent
}

malformed contains sprintf("attribute %q must be a number", [rule.threshold.attribute]) if {
	some rule in selected_rules
	value := request.attributes[rule.threshold.attribute]
	not is_number(value)
}

approval_entry(entry) if {
	is_string(entry.approver)
	entry.approver != ""
	is_string(entry.role)
	human_flag(entry)
}

human_flag(entry) if not has(entry, "human")

human_flag(entry) if is_boolean(entry.human)

non_negative(value) if {
	is_number(value)
	value >= 0
}

# Denials, by reason code --------------------------------------------------------------

denials contains reason("MALFORMED_REQUEST", message) if some message in malformed

denials contains reason("UNKNOWN_AGENT", sprintf("agent %q is not declared", [name])) if {
	some name in named
	not model.agents[name]
}

denials contains reason("IDENTITY_MISMATCH", sprintf("agent %q must present its SPIFFE ID", [request.agent])) if {
	is_string(agent.identity)
	not has(request, "identity")
}

denials contains reason("IDENTITY_MISMATCH", msg) if {
	is_string(agent.identity)
	is_string(request.identity)
	request.identity != agent.identity
	msg := sprintf("identity %q is not the SPIFFE ID of agent %q", [request.identity, request.agent])
}

denials contains reason("UNKNOWN_CAPABILITY", sprintf("capability %q is not declared", [capability])) if {
	is_string(capability)
	not model.capabilities[capability]
}

denials contains reason("UNDECLARED_HANDOFF", sprintf("no hand-off from %q to %q is declared", [from, to])) if {
	is_array(request.chain)
	some i, to in request.chain
	i > 0
	from := request.chain[i - 1]
	is_string(from)
	is_string(to)
	not model.handoffs[from][to]
}

denials contains reason("CHAIN_TOO_DEEP", msg) if {
	is_array(request.chain)
	hops := count(request.chain) - 1
	hops > model.max_chain_depth
	msg := sprintf("chain has %d hand-offs, more than max_chain_depth %d", [hops, model.max_chain_depth])
}

denials contains reason("NOT_GRANTED", sprintf("%q is not granted along the chain %s", [capability, chain_text])) if {
	walkable
	not carried([held | some name in chain; held := holds_capability(name)])
}

denials contains reason("RESOURCE_NOT_GRANTED", resource_message) if {
	walkable
	carried([held | some name in chain; held := holds_capability(name)])
	not carried([held | some name in chain; held := holds_resource(name)])
}

denials contains reason("CREDENTIAL_EXPIRED", msg) if {
	agent.credential_ttl
	not has(nested("credential"), "expires_at")
	msg := sprintf("credential.expires_at is required: agent %q has a credential ttl", [request.agent])
}

denials contains reason("CREDENTIAL_EXPIRED", sprintf("credential expired at %s", [request.credential.expires_at])) if {
	now_ns >= timestamp_ns(request.credential.expires_at)
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.max_actions)
	not has(nested("session"), "actions")
	msg := sprintf("session.actions is required: agent %q limits sessions to %d actions", [request.agent, agent.max_actions])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.max_actions)
	is_number(request.session.actions)
	request.session.actions >= agent.max_actions
	msg := sprintf("agent %q reached its session limit of %d actions", [request.agent, agent.max_actions])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_string(agent.max_duration)
	not has(nested("session"), "started_at")
	msg := sprintf("session.started_at is required: agent %q limits sessions to %s", [request.agent, agent.max_duration])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.max_duration_ns)
	now_ns - timestamp_ns(request.session.started_at) >= agent.max_duration_ns
	msg := sprintf("agent %q exceeded its session duration of %s", [request.agent, agent.max_duration])
}

denials contains reason("REVOKED", sprintf("agent %q is revoked", [name])) if {
	some name in named
	revoked("agents", name)
}

denials contains reason("REVOKED", sprintf("task %q is revoked", [request.task])) if {
	is_string(request.task)
	revoked("tasks", request.task)
}

revoked(kind, key) if data.agentctl_revocations[kind][key] != false

# Authority along the chain ------------------------------------------------------------

# walkable holds when the chain is well-formed, declared and within depth and the
# capability is declared: only then is asking whether it is granted meaningful.
walkable if {
	count(chain) - 1 <= model.max_chain_depth
	model.capabilities[capability]
	every i, name in chain {
		model.agents[name]
		declared_hop(i)
	}
}

declared_hop(i) if i == 0

declared_hop(i) if model.handoffs[chain[i - 1]][chain[i]]

holds_capability(name) if {
	model.agents[name].caps[capability]
} else := false

holds_resource(name) if {
	covers_resource(model.agents[name].caps[capability])
} else := false

covers_resource(scope) if scope.all

covers_resource(scope) if {
	some pattern in scope.patterns
	regex.match(pattern, request.resource)
}

resource_message := sprintf("resource %q is not granted for %q along the chain %s", [request.resource, capability, chain_text]) if {
	is_string(request.resource)
} else := sprintf("%q is granted only on listed resources along the chain %s and the request names none", [capability, chain_text])

# carried(held) tells whether the capability survives the chain, given whether each agent
# of it holds the capability itself. Each hand-off sets it, clears it or keeps what came
# before; the last hand-off that sets or clears it decides, else the originator's holding.
# This is the closed form of folding attenuate (E ∩ C), delegate (C) and
# forward_credentials (E ∪ C) along the chain, one capability and resource at a time.
carried(held) := value if {
	decisive := [i | some i, _ in chain; i > 0; hop(held, i) != "keep"]
	value := last_decision(held, decisive)
}

last_decision(held, decisive) := held[0] if count(decisive) == 0

last_decision(held, decisive) := value if {
	count(decisive) > 0
	value := hop(held, max(decisive)) == "set"
}

# hop(held, i) is what the hand-off into chain[i] does. Parallel hand-offs between the
# same agents are alternatives: any of them may carry the capability.
hop(held, i) := "set" if {
	held[i]
	some mode in model.handoffs[chain[i - 1]][chain[i]]
	mode in {"delegate", "forward_credentials"}
} else := "keep" if {
	held[i]
} else := "keep" if {
	"forward_credentials" in model.handoffs[chain[i - 1]][chain[i]]
} else := "clear"

# Approvals ----------------------------------------------------------------------------

# selected_rules are the approval rules matching the capability and the executing agent.
selected_rules contains rule if {
	is_string(request.agent)
	some rule in model.capabilities[capability].approvals
	selects_agent(rule)
}

selects_agent(rule) if rule.agents == null

selects_agent(rule) if rule.agents[request.agent]

pending[rule.rule] := {"rule": rule.rule, "role": rule.role, "approvers": rule.approvers} if {
	some rule in selected_rules
	over_threshold(rule)
	count(approvers(rule.role)) < rule.approvers
}

over_threshold(rule) if rule.threshold == null

# A threshold attribute the request does not carry fails closed: the rule applies.
over_threshold(rule) if {
	is_object(rule.threshold)
	not has(nested("attributes"), rule.threshold.attribute)
}

over_threshold(rule) if {
	value := request.attributes[rule.threshold.attribute]
	is_number(value)
	value > rule.threshold.above
}

# approvers(role) are the distinct human approvers holding role that are not agents of
# the policy, by name or by SPIFFE ID.
approvers(role) := {entry.approver |
	some entry in request.approvals
	entry.role == role
	entry.human == true
	is_string(entry.approver)
	entry.approver != ""
	not model.agents[entry.approver]
	not model.identities[entry.approver]
}
