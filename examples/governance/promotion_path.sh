#!/usr/bin/env bash
# The worked example of docs/governance.md: three throwaway signers take risk.killswitch from
# Built to Shadow to Limited live on the shipped data and the local CLOB v2 simulator.
# Everything happens in a new folder (default: a temporary one); nothing in the repository
# changes. Run from anywhere: bash examples/governance/promotion_path.sh [FOLDER]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
py="$repo/.venv/bin/python"
run() { printf "\n$ %s\n" "$*" >&2; "$@"; }
pt() { run polytraders "$@"; }
# the live node logs JSON lines on stderr: show only what the example is about
pt_lines() { printf "\n$ polytraders %s\n" "$*" >&2; polytraders "$@" 2>&1 | grep -E "$pattern" || true; }
polytraders() { "$repo/.venv/bin/polytraders" "$@"; }
store=(--store "$work/desk.sqlite")
gov=(--gov-dir "$work/governance")
repo_opt=(--repo "$repo")
bot=risk.killswitch

# 1. three signers, a signer list signed by two approvers, pinned in the store
for name in ana ben cleo; do pt gov keygen --signer "$name" --out keys; done
pt gov signers init "${gov[@]}" --signer keys/ana.pub.json:approver,reviewer \
  --signer keys/ben.pub.json:approver,risk_officer --signer keys/cleo.pub.json:approver
pt gov signers sign governance/signers/1.json --key keys/ana.key
pt gov signers sign governance/signers/1.json --key keys/ben.key
pt gov signers verify "${gov[@]}"
pt gov signers accept "${gov[@]}" "${store[@]}"

# 2. the evidence that takes days to gather (a recorded synthetic history: see the doc)
run env -C "$repo" "$py" -m tests.readiness.governance.history --store "$work/desk.sqlite" \
  --bot "$bot"
pt promote "$bot" --to built "${store[@]}" "${gov[@]}" "${repo_opt[@]}" | tail -1

# 3. Built -> Shadow
printf '# %s incident playbook\n\n1. Trip the kill switch; 2. page the on-call.\n' "$bot" > playbook.md
printf '# %s rollback plan\n\n1. Demote the bot; 2. return to the previous release.\n' "$bot" > rollback.md
notes=(--playbook playbook.md --rollback-plan rollback.md)
pt gates check "$bot" --to shadow "${store[@]}" "${gov[@]}" "${repo_opt[@]}" --json \
  | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["verdict"], [g["gate_id"] for g in d["gates"] if g["blocks"]])'
pt gov signoff create "$bot" --kind reviewer_signoff --to shadow \
  --statement "spec, fixtures and thresholds reviewed" "${gov[@]}"
signoff="$(ls governance/signoffs/$bot/reviewer_signoff-*.json)"
pt gov signoff sign "$signoff" --key keys/ana.key
pt gov signoff verify "$signoff" "${store[@]}" "${gov[@]}"
pt gov manifest create "$bot" --to shadow "${notes[@]}" "${store[@]}" "${gov[@]}" "${repo_opt[@]}"
pt gov manifest sign "governance/manifests/$bot/1.json" --key keys/ana.key
pt gov manifest verify "governance/manifests/$bot/1.json" "${store[@]}" "${gov[@]}" || true
pt gov manifest sign "governance/manifests/$bot/1.json" --key keys/ben.key
pt gov manifest verify "governance/manifests/$bot/1.json" "${store[@]}" "${gov[@]}"
pt promote "$bot" --to shadow "${store[@]}" "${gov[@]}" "${repo_opt[@]}" | tail -2

# 4. the live node against the simulator: the desk's other bots are released to Limited live
#    (not shown: each takes the same path), the kill switch runs in SHADOW
run env -C "$repo" "$py" -m tests.governed --store "$work/desk.sqlite" --gov-dir "$work/governance" \
  --approver "$work/keys/ana.key" --approver "$work/keys/cleo.key" --skip "$bot"
export POLYMARKET_PRIVATE_KEY="0x$("$py" -c 'import secrets; print(secrets.token_hex(32))')"
eval "$("$py" - <<'PY'
from polytraders.commands.live import DESK_BUILDER
from polytraders.simclob.server import account_for_key
import os
a = account_for_key(os.environ["POLYMARKET_PRIVATE_KEY"], builder_code=DESK_BUILDER)
print(f"export POLYMARKET_API_KEY={a.api_key} POLYMARKET_API_SECRET={a.api_secret} "
      f"POLYMARKET_API_PASSPHRASE={a.api_passphrase} POLYMARKET_BUILDER_CODE={DESK_BUILDER}")
PY
)"
polytraders sim-clob --port 0 --limit-markets 1 --replay-interval-ms 100 > sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
until grep -q "^market " sim.log; do sleep 0.2; done
url="$(sed -n 's/^simulator on \(http[^ ]*\).*/\1/p' sim.log)"; ws="${url/http/ws}"
market="$(sed -n 's/^market //p' sim.log | head -1)"
live=(live --live --i-understand-this-trades-real-money --markets "$market" --clob-url "$url"
  --ws-url "$ws/ws/market" --user-ws-url "$ws/ws/user" --duration-s 3 "${store[@]}" "${gov[@]}")
"$py" - "$bot" > shadow-desk.toml <<'PY'
import sys
from polytraders.backtest.desk_file import DeskFile
desk, bot = DeskFile(), sys.argv[1]
for section in ("strategies", "risk", "execution"):
    for e in getattr(desk, section):
        bot_id = desk.bot_class(e).bot_id
        mode = "SHADOW" if bot_id == bot else e.mode.value
        print(f'[[{section}]]\nid = "{bot_id}"\nmode = "{mode}"\n')
PY
pattern="^release: $bot|^reconciled|^node-1:"
pt_lines "${live[@]}" --desk shadow-desk.toml --out out-1 --run-id node-1
pattern="^refused: $bot|^error"
pt_lines "${live[@]}" --out out-2 --run-id node-2

# 5. Shadow -> Limited live
pt gates check "$bot" --to limited_live "${store[@]}" "${gov[@]}" "${repo_opt[@]}" --json \
  | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["verdict"], {g["gate_id"]: g["phase"] for g in d["gates"]})'
pt gov manifest create "$bot" --to limited_live "${notes[@]}" "${store[@]}" "${gov[@]}" "${repo_opt[@]}"
pt gov manifest sign "governance/manifests/$bot/2.json" --key keys/ana.key
pt gov manifest sign "governance/manifests/$bot/2.json" --key keys/cleo.key
pt gov manifest verify "governance/manifests/$bot/2.json" "${store[@]}" "${gov[@]}"
pt gov manifest verify "governance/manifests/$bot/1.json" "${store[@]}" "${gov[@]}" || true
pt promote "$bot" --to limited_live "${store[@]}" "${gov[@]}" "${repo_opt[@]}" | tail -2
pattern="^release: $bot|^reconciled|^node-3:"
pt_lines "${live[@]}" --out out-3 --run-id node-3

# 6. the GOV_ log and its chain
pt gov log --verify --gov-only "${store[@]}" | tail -4

# 7. a rollback drill (stage 4's "rollback plan tested"): release 2 back to release 1
pt gov drill "$bot" "${store[@]}" "${gov[@]}" 2>/dev/null
