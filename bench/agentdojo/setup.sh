#!/usr/bin/env bash
# Materialise AgentDojo v1.2.1 (package 0.1.34, commit 96046ab) and the pure-Python packages its
# task suites import, as source, into one directory OUTSIDE this repository, for machines where
# PyPI is not reachable. The usual path needs none of this:
#
#     python3 -m venv .venv && .venv/bin/pip install agentdojo==0.1.35
#     PYTHON=.venv/bin/python3 bench/agentdojo/run.sh
#
# Usage: bench/agentdojo/setup.sh [DIR]        (DIR default: $AGENTDOJO_SRC, else
#                                              ~/.cache/agentctl/agentdojo)
# Then:  AGENTDOJO_SRC=DIR bench/agentdojo/run.sh
#
# Sources come from GitHub at pinned commits. AGENTDOJO_MIRRORS=PATH reads them instead from
# local bare mirrors laid out as PATH/<owner>+<name>/repo (how the development machine holds
# them); upstream AgentDojo is then taken from the sequrity-ai fork, which contains upstream's
# commit unchanged.
#
# Needs git and a python3 with pydantic >= 2 and PyYAML. Debian 13 (trixie) ships both
# (apt-get install python3-pydantic python3-yaml); Debian 12 ships pydantic 1, which AgentDojo
# cannot use: there, use a python3 that has pydantic 2 (PYTHON=...) or the pip path above.
set -euo pipefail

dir="${1:-${AGENTDOJO_SRC:-$HOME/.cache/agentctl/agentdojo}}"
python="${PYTHON:-python3}"

# name           version upstream repository              commit
pins=(
  "agentdojo        0.1.34 ethz-spylab/agentdojo          96046ab54a99f5e5ec86b920ea9a2d8ae24ea6d8"  # benchmark v1.2.1 suites
  "deepdiff         8.4.2  seperman/deepdiff              3745adcb84efbfedd15ca80f8d367a6787c929bf"  # upstream's uv.lock
  "orderly_set      5.4.0  seperman/orderly-set           654aa4110cc289a2b63537598ce948ac47a4d714"  # upstream's uv.lock
  "email_validator  2.2.0  JoshData/python-email-validator 6589b1e9ec2d9b9007603c0523bf96d70efb70c9" # upstream's uv.lock
  "docstring_parser 0.16   rr-/docstring_parser          4951137875e79b438d52a18ac971ec0c28ef269c"  # upstream's uv.lock
)

source_of() { # owner/name -> a git URL or directory
  local repo="$1"
  if [ -n "${AGENTDOJO_MIRRORS:-}" ]; then
    [ "$repo" = ethz-spylab/agentdojo ] && repo=sequrity-ai/agentdojo
    echo "$AGENTDOJO_MIRRORS/${repo%%/*}+${repo#*/}/repo"
  else
    echo "https://github.com/$repo.git"
  fi
}

mkdir -p "$dir/deps"
for pin in "${pins[@]}"; do
  read -r name version repo commit <<<"$pin"
  tree="$dir/tree/$name"
  if [ "$(cat "$tree/.commit" 2>/dev/null)" != "$commit" ]; then
    echo "setup: $name at $commit from $(source_of "$repo")" >&2
    rm -rf "$tree" && mkdir -p "$tree"
    src="$(source_of "$repo")"
    if [ -d "$src" ]; then
      git --git-dir="$src" archive "$commit" | tar -x -C "$tree"
    else
      git -C "$tree" init -q && git -C "$tree" fetch -q --depth 1 "$src" "$commit" \
        && git -C "$tree" checkout -q FETCH_HEAD && rm -rf "$tree/.git"
    fi
    echo "$commit" >"$tree/.commit"
  fi
  # The importable package: agentdojo keeps it under src/, the others at the top.
  if [ "$name" = agentdojo ]; then pkg="$tree/src/agentdojo"; else pkg="$tree/$name"; fi
  ln -sfn "$pkg" "$dir/deps/$name"
  # Minimal installed-package metadata: pydantic asks importlib.metadata for email-validator's
  # version before it uses it.
  meta="$dir/deps/${name}-${version}.dist-info"
  rm -rf "$dir/deps/${name}-"*.dist-info && mkdir -p "$meta"
  printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "${name//_/-}" "$version" >"$meta/METADATA"
done

# Import the suites the way the harness does (without the LLM SDKs). email_validator imports
# dnspython only for deliverability checks, which the suites never run.
here="$(cd "$(dirname "$0")" && pwd)"
if ! "$python" - "$here" "$dir" <<'PY'
import sys
here, src = sys.argv[1], sys.argv[2]
import pydantic
if int(pydantic.VERSION.split(".")[0]) < 2:
    sys.exit("pydantic %s: AgentDojo needs pydantic 2" % pydantic.VERSION)
sys.path.insert(0, here)
import agentdojo_suites
suites = agentdojo_suites.suites(src, "workspace,travel,banking,slack")
print("setup: AgentDojo %s suites: %s" % (agentdojo_suites.BENCHMARK_VERSION, ", ".join(
    "%s (%d user tasks, %d injection tasks)" % (s.name, len(s.user_tasks()), len(s.injection_tasks()))
    for s in suites)), file=sys.stderr)
PY
then
  echo "setup: $python cannot import the suites from $dir/deps (see above)" >&2
  exit 1
fi
echo "$dir"
