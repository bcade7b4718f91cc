# METADATA
# title: agentctl runtime decision
# description: |
#   Decides one tool call of an AI agent against the policy that agentctl compiled into
#   data.agentctl_model (a root of the bundle that holds no rules: lookups there are
#   cheaper than under this package). Operators revoke agents and tasks at
#   data.agentctl_revocations, a root this bundle does not own. The Go reference is
#   policy.Decide; docs/runtime.md states the rules, which both engines implement.
package agentctl

import data.agentctl_model as model

# decision is the verdict on input (contract shape). Deny by default: a request is allowed
# only when it passes every check (cleared) and no approval rule that applies to it lacks
# approvers. The common allowed request is recognised first by the fast path (fast_flow,
# below), in one linear pass; only when that fails are the full checks evaluated, and the
# rules explaining a denial (denials) only for a denial.
decision := {"allow": true, "outcome": "allow", "reasons": [], "approvals_required": [], "flow": labels} if {
	labels := fast_flow
} else := {"allow": true, "outcome": "allow", "reasons": [], "approvals_required": [], "flow": flow} if {
	cleared
	pending == {}
} else := {
	"allow": false,
	"outcome": "needs_approval",
	"reasons": ordered({pending_reason(entry) | some entry in pending}),
	"approvals_required": [pending[name] | some name in sort(object.keys(pending))],
	"flow": flow,
} if {
	cleared
} else := {
	"allow": false,
	"outcome": "deny",
	"reasons": ordered(denials),
	"approvals_required": [],
	"flow": flow,
}

pending_reason(entry) := reason("FLOW_BLOCKED", msg) if {
	entry.rule == flow_rule
	msg := sprintf("egress after untrusted content and a sensitive read requires %d approver(s) with role %q%s", [entry.approvers, entry.role, context_text(entry)])
} else := reason("INTEGRITY_BLOCKED", msg) if {
	entry.rule == integrity_rule
	msg := sprintf("a call with this effect after untrusted content requires %d approver(s) with role %q%s", [entry.approvers, entry.role, context_text(entry)])
} else := reason("APPROVAL_REQUIRED", sprintf("approval rule %q requires %d approver(s) with role %q", [entry.rule, entry.approvers, entry.role]))

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
	"CONDITION_NOT_MET": 8,
	"CREDENTIAL_EXPIRED": 9,
	"SESSION_LIMIT": 10,
	"REVOKED": 11,
	"APPROVAL_REQUIRED": 12,
	"FLOW_BLOCKED": 13,
	"INTEGRITY_BLOCKED": 14,
}

ordered(set) := [r | some r in set] if {
	count(set) == 1
} else := [reason(entry[2], entry[1]) |
	some entry in sort([[rank[r.code], r.message, r.code] | some r in set])
]

reason(code, message) := {"code": code, "message": message}

# The fast path ---------------------------------------------------------------------------

# fast_flow is the flow labels after the call, defined only when the request is allowed by a
# shortcut of the checks below. Each line implies the check named beside it, so whenever
# fast_flow is defined, cleared holds and pending is empty: the full rules would allow with
# the same labels. It never decides a denial: any line that fails (an agent without a SPIFFE
# ID, a long chain or one whose last hop attenuates, a revocation, a flow the rule stops,
# approvals lacking...) hands the request to the full rules, which decide and explain.
# It is written for OPA's evaluator, where reading input or data costs several times a
# built-in call on values already bound: the request is read once (req) and passed to the
# helpers, each part of the model is looked up once, revocations are looked up rather than
# filtered, and no rule the full checks share is evaluated unless a helper needs it.
fast_flow := fast_result(object.get(labels, "sources", properties.sources), labels, properties, untrusted_after, sensitive_after) if {
	req := input
	name := req.agent
	agent := model.agents[name] # UNKNOWN_AGENT; agent is a string
	req.identity == agent.identity # IDENTITY_MISMATCH
	not data.agentctl_revocations.agents[name] # REVOKED: agent (`not` holds for an absent or false entry, as revoked fails)
	tool := req.tool
	action := req.action
	is_string(tool) # MALFORMED_REQUEST: tool
	is_string(action) # MALFORMED_REQUEST: action
	capability := concat(".", [tool, action])
	properties := model.capabilities[capability] # UNKNOWN_CAPABILITY
	is_string(object.get(req, "resource", "")) # MALFORMED_REQUEST: resource
	held_on_resource(agent, capability, req) # NOT_GRANTED, RESOURCE_NOT_GRANTED: the executing agent holds it
	chain_untrusted := fast_chain(object.get(req, "chain", [name]), name, agent) # UNDECLARED_HANDOFF, CHAIN_TOO_DEEP, NOT_GRANTED, REVOKED: chain
	task := object.get(req, "task", "")
	is_string(task) # MALFORMED_REQUEST: task
	not data.agentctl_revocations.tasks[task] # REVOKED: task ("" when absent: then only a revocation of "" sends it on)
	is_object(object.get(req, "attributes", {})) # MALFORMED_REQUEST: attributes
	time.parse_rfc3339_ns(object.get(req, "now", "2026-01-01T00:00:00Z")) # MALFORMED_REQUEST: now
	fast_limits(agent, req) # CREDENTIAL_EXPIRED, SESSION_LIMIT, MALFORMED_REQUEST: credential, session
	fast_approved(properties, req, name) # MALFORMED_REQUEST: approvals, thresholds; APPROVAL_REQUIRED
	labels := object.get(req, ["session", "flow"], {}) # booleans where present (fast_limits)
	untrusted_after := true in [object.get(labels, "untrusted", false), chain_untrusted, properties.external_read] # absent when conditional
	sensitive_after := true in [object.get(labels, "sensitive", false), properties.sensitive_read]
	[untrusted_after, sensitive_after] in properties.pass # FLOW_BLOCKED, INTEGRITY_BLOCKED
}

# fast_result(sources, labels, properties, u, s) is the flow after a call the fast path
# allows: the labels, and the sources when there are any (the request's, and the call's
# own). sources is null when neither the request nor the call has any: the common case,
# decided by the arguments alone.
fast_result(null, _, _, u, s) := {"untrusted": u, "sensitive": s}

fast_result(sources, labels, properties, u, s) := flow if {
	sources != null
	merged := {label: bounded(listed | added) |
		some label in ["untrusted", "sensitive"]
		listed := {x | some x in object.get(labels, ["sources", label], [])}
		added := {x | some x in object.get(properties, ["sources", label], [])}
	}
	flow := object.union({"untrusted": u, "sensitive": s}, {"sources": merged | count(merged.untrusted) + count(merged.sensitive) > 0})
}

# fast_chain(chain, name, agent) is whether an agent of the request's chain (chain; [name]
# when absent) has untrusted_input, for a chain of at most three hand-offs into agent name
# whose agents and hand-offs are declared (compile guarantees hand-offs join declared
# agents), within max_chain_depth, none revoked, and whose last hand-off alone carries the
# capability: a direct call, or a delegate or forward_credentials hand-off (held: "set")
# into the executing agent, which holds it. That hand-off sets the carried authority
# whatever came before it (see carries), so earlier hops need only be declared. Each
# hand-off records whether one of its agents has untrusted_input. The caller checks the
# executing agent's revocation. Other chains are left to the full rules.
fast_chain(chain, name, agent) := agent.untrusted_input if {
	chain == [name]
} else := h1.untrusted if {
	[a, last] := chain
	last == name
	model.max_chain_depth >= 1
	h1 := model.handoffs[a][last]
	h1.held == "set"
	not data.agentctl_revocations.agents[a]
} else := true in [h1.untrusted, h2.untrusted] if {
	[a, b, last] := chain
	last == name
	model.max_chain_depth >= 2
	h1 := model.handoffs[a][b]
	h2 := model.handoffs[b][last]
	h2.held == "set"
	not data.agentctl_revocations.agents[a]
	not data.agentctl_revocations.agents[b]
} else := true in [h1.untrusted, h2.untrusted, h3.untrusted] if {
	[a, b, c, last] := chain
	last == name
	model.max_chain_depth >= 3
	h1 := model.handoffs[a][b]
	h2 := model.handoffs[b][c]
	h3 := model.handoffs[c][last]
	h3.held == "set"
	not data.agentctl_revocations.agents[a]
	not data.agentctl_revocations.agents[b]
	not data.agentctl_revocations.agents[c]
}

# fast_limits(agent, req) holds when credential_valid and session_valid do, in a few
# expressions when the request carries neither and the agent needs neither.
fast_limits(agent, req) if {
	object.get(req, "credential", set()) == set()
	object.get(req, "session", set()) == set()
	not agent.credential_ttl
	not agent.session
} else if {
	credential_valid
	session_valid
}

# fast_approved(properties, req, name) holds when the approvals are absent, or an array of
# well-formed entries (approval_entry, with canonical inlined: a function call per entry
# costs more than the entry), and every approval rule of the capability is met: it does not
# select agent name, its threshold is not exceeded, or enough distinct human non-agent
# approvers hold its role (pending has no rule).
fast_approved(properties, req, name) if {
	object.get(req, "approvals", set()) == set()
	not properties.approvals
} else if {
	# The common case of one approval for one rule of one approver, without comprehensions:
	# the entry is well-formed and is that approver, which meets the rule whether or not it
	# selects the agent and whatever its threshold.
	[entry] := req.approvals
	[rule] := properties.approvals
	rule.approvers <= 1
	entry.human == true
	role := entry.role
	approver := entry.approver
	regex.match(`^[!-~]+$`, role)
	regex.match(`^[!-~]+$`, approver)
	lower(role) == rule.role_key
	not model.principals[lower(approver)]
	is_number(object.get(req, ["attributes", object.get(rule, ["threshold", "attribute"], "")], 0)) # readable
} else if {
	approvals := req.approvals
	is_array(approvals)
	entries := [[lower(entry.role), lower(entry.approver), human] |
		some entry in approvals
		regex.match(`^[!-~]+$`, entry.role)
		regex.match(`^[!-~]+$`, entry.approver)
		human := object.get(entry, "human", false)
		is_boolean(human)
	]
	count(entries) == count(approvals)
	every rule in object.get(properties, "approvals", []) {
		fast_rule_met(rule, entries, req, name)
	}
}

fast_rule_met(rule, entries, req, name) if {
	rule.agents
	not rule.agents[name]
} else if {
	some condition in rule.when
	condition_fails(condition, req)
	is_number(object.get(req, ["attributes", object.get(rule, ["threshold", "attribute"], "")], 0)) # readable
} else if {
	count({who | some [role, who, true] in entries; role == rule.role_key; not model.principals[who]}) >= rule.approvers
	is_number(object.get(req, ["attributes", object.get(rule, ["threshold", "attribute"], "")], 0)) # readable
} else if {
	value := req.attributes[rule.threshold.attribute]
	is_number(value)
	value <= rule.threshold.above
}

# The checks -----------------------------------------------------------------------------

# cleared holds when no check denies the request. Each line is the positive form of one
# group of denials below; together they hold exactly when denials is empty.
cleared if {
	well_formed
	walkable
	carries(resource_steps)
	identified
	credential_valid
	session_valid
	not revoked_any
	unreadable_thresholds == set()
	not flow_denied
	not integrity_denied
}

# well_formed holds when the request is an object whose top-level fields have their types,
# with a well-formed chain and approvals (see malformed). The identity, the credential and
# the session are checked with what they are for, below, and threshold attributes with the
# approval rules (unreadable_thresholds).
well_formed if {
	chain
	capability
	is_string(object.get(input, "resource", ""))
	is_string(object.get(input, "task", ""))
	is_object(attributes)
	is_array(approvals)
	every entry in approvals {
		approval_entry(entry)
	}
	now_ns
}

# walkable holds when the chain is within depth, every agent of it and every hand-off along
# it is declared, and the capability is declared: only then is asking whether the chain
# carries the capability meaningful.
walkable if {
	length := count(chain)
	length - 1 <= model.max_chain_depth
	model.capabilities[capability]
	count(resource_steps) == length
}

# identified holds when the request presents the executing agent's SPIFFE ID, or when the
# agent declares none and the identity, if any, is a string. (An undeclared agent is not
# walkable.)
identified if {
	input.identity == agent.identity
} else if {
	not agent.identity
	is_string(object.get(input, "identity", ""))
}

# credential_valid holds when the request's credential is an object with an unexpired
# expires_at, or without one if the agent's credential has no ttl. Absent or empty, it
# needs no further look.
credential_valid if {
	credential == {}
	not agent.credential_ttl
} else if {
	is_object(credential)
	not has(credential, "expires_at")
	not agent.credential_ttl
} else if {
	now_ns < timestamp_ns(credential.expires_at)
}

# session_valid holds when the request's session is an object with well-formed fields,
# within the agent's session limits. Absent or empty, it needs no further look unless the
# agent has limits.
session_valid if {
	session == {}
	not agent.session
} else if {
	is_object(session)
	non_negative(object.get(session, "actions", 0))
	optional_timestamp(session, "started_at")
	flow_well_formed
	within_actions
	within_duration
}

within_actions if {
	not agent.session.max_actions
} else if {
	session.actions < agent.session.max_actions
}

within_duration if {
	not agent.session.max_duration_ns
} else if {
	now_ns - timestamp_ns(session.started_at) < agent.session.max_duration_ns
}

revoked_any if {
	revoked_agents := data.agentctl_revocations.agents
	some name in chain
	revoked_agents[name] != false
}

revoked_any if data.agentctl_revocations.tasks[input.task] != false

# Request fields -----------------------------------------------------------------------

# request is the input when it is an object, else the empty object. Checks that test for
# absence use it: OPA hoists call arguments out of `not`, so an undefined argument would
# make `not has(input.x, ...)` fail instead of succeed.
request := input if {
	is_object(input)
} else := {}

# The request's optional objects and approvals, empty when absent.
attributes := object.get(request, "attributes", {})

credential := object.get(request, "credential", {})

session := object.get(request, "session", {})

approvals := object.get(request, "approvals", [])

has(doc, key) if _ = doc[key]

agent := model.agents[input.agent]

capability := concat(".", [tool, action]) if {
	tool := input.tool
	is_string(tool)
	action := input.action
	is_string(action)
}

# chain is the hand-off chain of the call when well-formed: the request's, a non-empty array
# of names ending with the agent, else [agent].
chain := names if {
	names := input.chain
	is_array(names)
	last := names[count(names) - 1]
	is_string(last)
	last == input.agent
	every name in names {
		is_string(name)
	}
} else := [input.agent] if {
	is_string(input.agent)
	not has(request, "chain")
}

chain_text := concat(" -> ", chain)

# named holds every agent the request says takes part.
named contains input.agent if is_string(input.agent)

named contains name if {
	is_array(input.chain)
	some name in input.chain
	is_string(name)
}

# chain_listed holds when the request's chain is a non-empty array of strings.
chain_listed if {
	is_array(input.chain)
	count(input.chain) > 0
	every name in input.chain {
		is_string(name)
	}
}

timestamp_ns(value) := time.parse_rfc3339_ns(value) if is_string(value)

optional_timestamp(doc, key) if {
	not has(doc, key)
} else if {
	timestamp_ns(doc[key])
}

now_ns := ns if {
	ns := timestamp_ns(input.now)
} else := time.now_ns() if {
	not has(request, "now")
}

approval_entry(entry) if {
	canonical(entry.approver)
	canonical(entry.role)
	is_boolean(object.get(entry, "human", false))
}

# canonical(name) is the canonical form of an approver or role name: PRECIS
# UsernameCaseMapped restricted to printable ASCII without spaces, which on that repertoire
# is lower-casing (policy.CanonicalName; a Go test holds the two to it). Undefined for any
# other name, which makes the request malformed.
canonical(name) := lower(name) if regex.match(`^[!-~]+$`, name)

# flow_well_formed holds when session.flow is absent, or an object whose labels, where
# present, are booleans.
flow_well_formed if {
	not has(session, "flow")
} else if {
	labels := session.flow
	is_object(labels)
	is_boolean(object.get(labels, "untrusted", false))
	is_boolean(object.get(labels, "sensitive", false))
	sources_well_formed(labels)
}

sources_well_formed(labels) if {
	not has(labels, "sources")
} else if {
	sources := labels.sources
	is_object(sources)
	string_array(object.get(sources, "untrusted", []))
	string_array(object.get(sources, "sensitive", []))
}

string_array(value) if {
	is_array(value)
	every element in value {
		is_string(element)
	}
}

non_negative(value) if {
	is_number(value)
	value >= 0
}

# Malformed requests: why well_formed, credential_valid or session_valid fails ----------

malformed contains "request must be a JSON object" if not is_object(input)

malformed contains sprintf("%s must be a string", [key]) if {
	not well_formed
	some key in ["agent", "tool", "action"]
	not is_string(object.get(request, key, null))
}

malformed contains "identity must be a string" if {
	value := input.identity
	not is_string(value)
}

malformed contains sprintf("%s must be a string", [key]) if {
	not well_formed
	some key in ["resource", "task"]
	value := input[key]
	not is_string(value)
}

malformed contains "attributes must be an object" if {
	not well_formed
	not is_object(attributes)
}

malformed contains "approvals must be an array" if {
	not well_formed
	not is_array(approvals)
}

malformed contains "approvals must hold objects with an approver and a role that are printable ASCII without spaces and, if present, a boolean human" if {
	not well_formed
	is_array(approvals)
	some entry in approvals
	not approval_entry(entry)
}

malformed contains "now must be an RFC 3339 timestamp" if {
	not well_formed
	value := input.now
	not timestamp_ns(value)
}

malformed contains "chain must be a non-empty array of agent names" if {
	not well_formed
	has(request, "chain")
	not chain_listed
}

malformed contains "chain must end with the agent" if {
	not well_formed
	is_string(input.agent)
	chain_listed
	input.chain[count(input.chain) - 1] != input.agent
}

malformed contains sprintf("%s must be an object", [key]) if {
	some key in ["credential", "session"]
	value := input[key]
	not is_object(value)
}

malformed contains "credential.expires_at must be an RFC 3339 timestamp" if {
	value := input.credential.expires_at
	not timestamp_ns(value)
}

malformed contains "session.started_at must be an RFC 3339 timestamp" if {
	value := input.session.started_at
	not timestamp_ns(value)
}

malformed contains "session.flow must be an object" if {
	value := input.session.flow
	not is_object(value)
}

malformed contains sprintf("session.flow.%s must be a boolean", [key]) if {
	some key in ["untrusted", "sensitive"]
	value := input.session.flow[key]
	not is_boolean(value)
}

malformed contains "session.flow.sources must be an object" if {
	value := input.session.flow.sources
	not is_object(value)
}

malformed contains sprintf("session.flow.sources.%s must be an array of strings", [key]) if {
	some key in ["untrusted", "sensitive"]
	value := input.session.flow.sources[key]
	not string_array(value)
}

malformed contains "session.actions must be a non-negative number" if {
	value := input.session.actions
	not non_negative(value)
}

malformed contains sprintf("attribute %q must be a number", [name]) if some name in unreadable_thresholds

# unreadable_thresholds are the threshold attributes of the selected approval rules that
# the request carries, but not as a number.
unreadable_thresholds contains name if {
	some rule in selected_rules
	name := rule.threshold.attribute
	value := attributes[name]
	not is_number(value)
}

# Denials, by reason code: why cleared fails --------------------------------------------

denials contains reason("MALFORMED_REQUEST", message) if some message in malformed

denials contains reason("UNKNOWN_AGENT", sprintf("agent %q is not declared", [name])) if {
	some name in named
	not model.agents[name]
}

denials contains reason("IDENTITY_MISMATCH", sprintf("agent %q must present its SPIFFE ID", [input.agent])) if {
	is_string(agent.identity)
	not has(request, "identity")
}

denials contains reason("IDENTITY_MISMATCH", msg) if {
	is_string(agent.identity)
	is_string(input.identity)
	input.identity != agent.identity
	msg := sprintf("identity %q is not the SPIFFE ID of agent %q", [input.identity, input.agent])
}

denials contains reason("UNKNOWN_CAPABILITY", sprintf("capability %q is not declared", [capability])) if {
	is_string(capability)
	not model.capabilities[capability]
}

denials contains reason("UNDECLARED_HANDOFF", sprintf("no hand-off from %q to %q is declared", [from, to])) if {
	is_array(input.chain)
	some i, to in input.chain
	i > 0
	from := input.chain[i - 1]
	is_string(from)
	is_string(to)
	not model.handoffs[from][to]
}

denials contains reason("CHAIN_TOO_DEEP", msg) if {
	is_array(input.chain)
	hops := count(input.chain) - 1
	hops > model.max_chain_depth
	msg := sprintf("chain has %d hand-offs, more than max_chain_depth %d", [hops, model.max_chain_depth])
}

# Carrying the capability on the resource implies carrying the capability, so the
# capability alone is only looked at when the resource is not carried.
denials contains reason("NOT_GRANTED", sprintf("%q is not granted along the chain %s", [capability, chain_text])) if {
	walkable
	not carries(resource_steps)
	not carries(capability_steps)
}

denials contains reason("RESOURCE_NOT_GRANTED", resource_message) if {
	walkable
	not carries(resource_steps)
	not carries(covered_steps)
	carries(capability_steps)
}

denials contains reason("CONDITION_NOT_MET", msg) if {
	walkable
	not carries(resource_steps)
	carries(covered_steps)
	msg := sprintf("%q is granted along the chain %s only under conditions the call does not meet: %s", [capability, chain_text, concat("; ", sort(failing_conditions))])
}

# failing_conditions are the conditions that do not hold of the grants of the chain's agents
# that cover the capability on the resource.
failing_conditions contains condition.text if {
	some name in chain
	x := model.agents[name]
	some scope in [object.get(x.caps, capability, {}), object.get(x, ["any_tool", input.action], {}), object.get(x, ["any_tool", "*"], {})]
	some grant in object.get(scope, "when", [])
	grant_covers(grant, request)
	some condition in grant.conditions
	not condition_holds(condition, request)
}

denials contains reason("CREDENTIAL_EXPIRED", msg) if {
	agent.credential_ttl
	not has(credential, "expires_at")
	msg := sprintf("credential.expires_at is required: agent %q has a credential ttl", [input.agent])
}

denials contains reason("CREDENTIAL_EXPIRED", sprintf("credential expired at %s", [input.credential.expires_at])) if {
	now_ns >= timestamp_ns(input.credential.expires_at)
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.session.max_actions)
	not has(session, "actions")
	msg := sprintf("session.actions is required: agent %q limits sessions to %d actions", [input.agent, agent.session.max_actions])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.session.max_actions)
	is_number(input.session.actions)
	input.session.actions >= agent.session.max_actions
	msg := sprintf("agent %q reached its session limit of %d actions", [input.agent, agent.session.max_actions])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_string(agent.session.max_duration)
	not has(session, "started_at")
	msg := sprintf("session.started_at is required: agent %q limits sessions to %s", [input.agent, agent.session.max_duration])
}

denials contains reason("SESSION_LIMIT", msg) if {
	is_number(agent.session.max_duration_ns)
	now_ns - timestamp_ns(input.session.started_at) >= agent.session.max_duration_ns
	msg := sprintf("agent %q exceeded its session duration of %s", [input.agent, agent.session.max_duration])
}

denials contains reason("REVOKED", sprintf("agent %q is revoked", [name])) if {
	some name in named
	revoked("agents", name)
}

denials contains reason("REVOKED", sprintf("task %q is revoked", [input.task])) if {
	is_string(input.task)
	revoked("tasks", input.task)
}

revoked(kind, key) if data.agentctl_revocations[kind][key] != false

resource_message := sprintf("resource %q is not granted for %q along the chain %s", [input.resource, capability, chain_text]) if {
	is_string(input.resource)
} else := sprintf("%q is granted only on listed resources along the chain %s and the request names none", [capability, chain_text])

# Authority along the chain ------------------------------------------------------------

# resource_steps[i] is what chain[i] does to the capability on the request's resource, and
# capability_steps[i] to the capability alone: "set", "clear" or "keep". The originator's
# own holding decides; each hand-off into chain[i] sets, clears or keeps what came before,
# by whether chain[i] holds the capability (model.handoffs, parallel hand-offs merged).
# The first element has no hand-off into it (chain[-1] is undefined). A step is missing
# when its agent or the hand-off into it is not declared.
resource_steps := array.concat(
	[origin[resource_holding(names[0])]],
	[handoff[resource_holding(name)] | some i, name in names; handoff := model.handoffs[names[i - 1]][name]],
) if {
	names := chain
	capability
}

covered_steps := array.concat(
	[origin[covered_holding(names[0])]],
	[handoff[covered_holding(name)] | some i, name in names; handoff := model.handoffs[names[i - 1]][name]],
) if {
	names := chain
	capability
}

capability_steps := array.concat(
	[origin[capability_holding(names[0])]],
	[handoff[capability_holding(name)] | some i, name in names; handoff := model.handoffs[names[i - 1]][name]],
) if {
	names := chain
	capability
}

origin := {"held": "set", "lacking": "clear"}

# resource_holding(name) tells whether agent name's own grants cover the capability on the
# request's resource, capability_holding(name) whether they cover the capability.
resource_holding(name) := "held" if {
	held_on_resource(model.agents[name], capability, request)
} else := "lacking" if {
	model.agents[name]
}

# covered_holding(name) tells whether agent name's own grants cover the capability on the
# request's resource, whatever their conditions.
covered_holding(name) := "held" if {
	covered_on_resource(model.agents[name], capability, request)
} else := "lacking" if {
	model.agents[name]
}

capability_holding(name) := "held" if {
	model.agents[name].caps[capability]
} else := "held" if {
	model.agents[name].any_tool[input.action]
} else := "held" if {
	model.agents[name].any_tool["*"]
} else := "lacking" if {
	model.agents[name]
}

# held_on_resource(x, cap, req) holds when agent x's own grants cover capability cap (of
# action req.action) on resource req.resource: a grant without a resource list does, one
# with a pattern matching it does. The grants naming the capability's tool are in x.caps, by
# capability; grants on every tool ("*") are kept unexpanded in x.any_tool, by action name,
# "*" for every action. The request is an argument so the fast path need not read input
# again.
held_on_resource(x, cap, req) if {
	x.caps[cap].all
} else if {
	some pattern in x.caps[cap].patterns
	regex.match(pattern, req.resource)
} else if {
	x.any_tool[req.action].all
} else if {
	some pattern in x.any_tool[req.action].patterns
	regex.match(pattern, req.resource)
} else if {
	x.any_tool["*"].all
} else if {
	some pattern in x.any_tool["*"].patterns
	regex.match(pattern, req.resource)
} else if {
	some grant in x.caps[cap].when
	grant_covers(grant, req)
	all_hold(grant.conditions, req)
} else if {
	some grant in x.any_tool[req.action].when
	grant_covers(grant, req)
	all_hold(grant.conditions, req)
} else if {
	some grant in x.any_tool["*"].when
	grant_covers(grant, req)
	all_hold(grant.conditions, req)
}

# covered_on_resource(x, cap, req) holds when agent x's own grants cover capability cap on
# resource req.resource, whatever the conditions of the grants.
covered_on_resource(x, cap, req) if {
	held_on_resource(x, cap, req)
} else if {
	some grant in x.caps[cap].when
	grant_covers(grant, req)
} else if {
	some grant in x.any_tool[req.action].when
	grant_covers(grant, req)
} else if {
	some grant in x.any_tool["*"].when
	grant_covers(grant, req)
}

grant_covers(grant, _) if grant.all

grant_covers(grant, req) if {
	some pattern in grant.patterns
	regex.match(pattern, req.resource)
}

# Conditions ----------------------------------------------------------------------------

# condition_holds(c, req) holds when condition c holds of request req: the attribute is
# present, of the type the operator tests, and passes it. condition_fails(c, req) holds when
# it is present and of that type but fails. Neither holds for an absent attribute or one of
# another type: each use decides which side that falls on (policy.Condition).
condition_holds(c, req) if {
	c.op == "in"
	value := req.attributes[c.attribute]
	scalar(value)
	value in condition_values(c, req)
}

condition_holds(c, req) if {
	c.op == "not_in"
	value := req.attributes[c.attribute]
	scalar(value)
	not value in condition_values(c, req)
}

condition_holds(c, req) if {
	c.op == "matches"
	value := req.attributes[c.attribute]
	is_string(value)
	regex.match(c.pattern, value)
}

condition_holds(c, req) if {
	c.op == "not_matches"
	value := req.attributes[c.attribute]
	is_string(value)
	not regex.match(c.pattern, value)
}

condition_holds(c, req) if {
	c.op == "above"
	value := req.attributes[c.attribute]
	is_number(value)
	value > c.number
}

condition_holds(c, req) if {
	c.op == "at_most"
	value := req.attributes[c.attribute]
	is_number(value)
	value <= c.number
}

condition_fails(c, req) if {
	value := req.attributes[c.attribute]
	testable(c.op, value)
	not condition_holds(c, req)
}

testable(op, value) if {
	op in {"in", "not_in"}
	scalar(value)
}

testable(op, value) if {
	op in {"matches", "not_matches"}
	is_string(value)
}

testable(op, value) if {
	op in {"above", "at_most"}
	is_number(value)
}

scalar(value) if is_string(value)

scalar(value) if is_number(value)

# condition_values(c, req) are the values an in/not_in condition tests against: literal
# values or a static list's (inlined by compile), or a runtime list pushed to
# data.agentctl_lists, selected by the request's key field when the list has a key. A list
# that is absent, or not an array, is empty.
condition_values(c, req) := c.values if {
	not c.list
} else := values if {
	key := object.get(req, c.key, null)
	is_string(key)
	values := data.agentctl_lists[c.list][key]
	is_array(values)
} else := values if {
	not c.key
	values := data.agentctl_lists[c.list]
	is_array(values)
} else := []

all_hold(conditions, req) if {
	every c in conditions {
		condition_holds(c, req)
	}
}

none_fails(conditions, req) if {
	every c in conditions {
		not condition_fails(c, req)
	}
}

# carries(steps) holds when the capability survives the chain: the last step that sets or
# clears it decides (the originator's always does). This is the closed form of folding
# attenuate (E ∩ C), delegate (C) and forward_credentials (E ∪ C) along the chain, one
# capability and resource at a time.
carries(steps) if {
	decisive := [step | some step in steps; step != "keep"]
	decisive[count(decisive) - 1] == "set"
}

# Approvals ----------------------------------------------------------------------------

# selected_rules are the approval rules matching the capability and the executing agent.
selected_rules contains rule if {
	is_string(input.agent)
	some rule in model.capabilities[capability].approvals
	selects_agent(rule)
}

selects_agent(rule) if {
	not rule.agents
} else if {
	rule.agents[input.agent]
}

# pending are the selected rules that apply to the request and lack approvers. Only
# evaluated once cleared holds, so the request is well-formed and its threshold attributes
# are numbers where present.
pending[rule.rule] := {"rule": rule.rule, "role": rule.role, "approvers": rule.approvers} if {
	some rule in selected_rules
	applies(rule)
	none_fails(object.get(rule, "when", []), request)
	count(approvers(rule.role_key)) < rule.approvers
}

# A threshold attribute the request does not carry fails closed: the rule applies.
applies(rule) if {
	not rule.threshold
} else if {
	attributes[rule.threshold.attribute] > rule.threshold.above
} else if {
	not attributes[rule.threshold.attribute]
}

# approvers(role) are the distinct human approvers holding role that are not agents of
# the policy, by name or by SPIFFE ID, approvers and roles compared in canonical form.
approvers(role) := {who |
	some entry in approvals
	entry.human == true
	canonical(entry.role) == role
	who := canonical(entry.approver)
	not model.principals[who]
}

# Information flow ------------------------------------------------------------------------

# flow is the pair of labels the enforcement point keeps for the task once this call has
# executed: the request's session.flow labels, plus untrusted when an agent of the request
# has untrusted_input or the call is an external read, plus sensitive when it is a
# sensitive read (policy.ExternalRead, SensitiveRead and Egress classify the capabilities).
flow := {"untrusted": untrusted, "sensitive": sensitive, "sources": flow_sources} if {
	count(flow_sources.untrusted) + count(flow_sources.sensitive) > 0
} else := {"untrusted": untrusted, "sensitive": sensitive}

# flow_sources are the capabilities that set each label: the request's session.flow.sources
# (their strings) and this call, sorted, deduplicated and bounded (policy.MaxSources).
flow_sources := {
	"untrusted": bounded({x | some x in session_sources("untrusted")} | {capability | untrusted_class}),
	"sensitive": bounded({x | some x in session_sources("sensitive")} | {capability | model.capabilities[capability].sensitive_read}),
}

session_sources(label) := [x | some x in list; is_string(x)] if {
	list := input.session.flow.sources[label]
	is_array(list)
} else := []

bounded(set) := array.slice(sort(set), 0, 8)

# untrusted_class holds when the call brings outsider content into the task: the action's
# untrusted class, unconditional, or conditional and no condition fails.
untrusted_class if model.capabilities[capability].external_read

untrusted_class if none_fails(model.capabilities[capability].untrusted_when, request)

# egress_class likewise for the egress class.
egress_class if model.capabilities[capability].egress

egress_class if none_fails(model.capabilities[capability].egress_when, request)

# flow_context is what a flow rule's approval carries for its reviewer: the sources after
# the call and the call's arguments (the request's attributes).
flow_context := {"sources": flow_sources, "arguments": arguments}

arguments := attributes if {
	is_object(attributes)
} else := {}

# context_text(ctx) is a context as messages append it, each empty part left out.
context_text(ctx) := concat("", [sprintf("; %s: %s", [name, concat(", ", list)]) |
	some [name, list] in [
		["untrusted sources", ctx.sources.untrusted],
		["sensitive sources", ctx.sources.sensitive],
		["arguments", sort(object.keys(ctx.arguments))],
	]
	count(list) > 0
])

default untrusted := false

untrusted if input.session.flow.untrusted == true

untrusted if {
	some name in named
	model.agents[name].untrusted_input
}

untrusted if untrusted_class

default sensitive := false

sensitive if input.session.flow.sensitive == true

sensitive if model.capabilities[capability].sensitive_read

flow_rule := "flow:egress"

# flow_blocked holds for egress once the session holds both labels, unless the executing
# agent or the action opts out (flow_exempt, with a reason, in the policy).
flow_blocked if {
	egress_class
	untrusted
	sensitive
	not flow_exempt
}

# A rule of its own, so that an absent agent (undefined inside `not`) is simply not exempt.
flow_exempt if model.agents[input.agent].flow_exempt

flow_exempt if model.capabilities[capability].flow_exempt

flow_denied if {
	model.flow.on_egress == "deny"
	flow_blocked
}

denials contains reason("FLOW_BLOCKED", msg) if {
	flow_denied
	msg := sprintf("%q is egress and the session holds untrusted content and a sensitive read%s", [capability, context_text(flow_context)])
}

pending[flow_rule] := object.union({"rule": flow_rule, "role": model.flow.role, "approvers": model.flow.approvers}, flow_context) if {
	model.flow.on_egress == "needs_approval"
	flow_blocked
	count(approvers(model.flow.role_key)) < model.flow.approvers
}

# Integrity -------------------------------------------------------------------------------

integrity_rule := "flow:integrity"

# integrity_blocked holds for a call whose effect the integrity rule guards once the session
# holds untrusted content (after the call), unless the agent or the action opts out of the
# flow rules, or the rule's unless conditions are given and all hold.
integrity_blocked if {
	model.capabilities[capability].integrity
	untrusted
	not flow_exempt
	not integrity_unless
}

integrity_unless if {
	conditions := model.integrity.unless
	count(conditions) > 0
	all_hold(conditions, request)
}

integrity_denied if {
	model.integrity.on == "deny"
	integrity_blocked
}

denials contains reason("INTEGRITY_BLOCKED", msg) if {
	integrity_denied
	effect := model.capabilities[capability].effect
	msg := sprintf("%q has effect %s and the session holds untrusted content%s", [capability, effect, context_text(flow_context)])
}

pending[integrity_rule] := object.union({"rule": integrity_rule, "role": model.integrity.role, "approvers": model.integrity.approvers}, flow_context) if {
	model.integrity.on == "needs_approval"
	integrity_blocked
	count(approvers(model.integrity.role_key)) < model.integrity.approvers
}
