#!/usr/bin/env bash
# The API tour of README.md ("A tour with curl"), as one script: register, read the verification
# link from var/outbox/, log in, report a merchant, upload evidence, build and file a joint
# complaint, watch the filing's status. Run it against `make run` (the demo regulator on the
# regulator simulator receives the complaint), from the checkout:
#
#   bash tests/packaging/curl_tour.sh
#
# Needs curl and jq. BASE (http://127.0.0.1:8000) and OUTBOX (var/outbox) say where Chorus runs
# and where it writes mail; WAIT (120) is how many seconds to wait for a mail or a status.
# tests/packaging/test_curl_tour.py runs this script against a `chorus run` it starts.
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:8000}
OUTBOX=${OUTBOX:-var/outbox}
WAIT=${WAIT:-120}
RUN=$(date +%s)$RANDOM
EMAIL=${EMAIL:-tour-$RUN@example.com}
PASSWORD=${PASSWORD:-tour-password-$RUN}
QQ=${QQ:-1${RUN: -9}}          # the merchant's QQ number: a new merchant on every run

step() { printf '\n== %s\n' "$*" >&2; }
# JSON in, JSON out; a 4xx or 5xx stops the tour with the problem+json Chorus answered
api() { curl -sS --fail-with-body -H 'Content-Type: application/json' "$@"; }

step "1. register"
api -X POST "$BASE/api/v1/auth/register" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\", \"display_name\": \"Tour\"}"

step "2. the verification link, from the mail written under $OUTBOX"
MAIL=""
for _ in $(seq "$WAIT"); do
  MAIL=$(grep -l -F "To: $EMAIL" "$OUTBOX"/*.txt 2>/dev/null | head -n 1 || true)
  [ -n "$MAIL" ] && break
  sleep 1
done
[ -n "$MAIL" ] || { echo "no mail to $EMAIL under $OUTBOX" >&2; exit 1; }
VERIFY_TOKEN=$(grep -o 'token=[A-Za-z0-9._~-]*' "$MAIL" | head -n 1 | cut -d= -f2)
api -X POST "$BASE/api/v1/auth/verify" -d "{\"token\": \"$VERIFY_TOKEN\"}"

step "3. log in: the answer's token is the bearer token of every next call"
TOKEN=$(api -X POST "$BASE/api/v1/auth/login" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}" | jq -r .token)
AUTH="Authorization: Bearer $TOKEN"

step "4. report the merchant: a new one opens its case, with you as its organizer"
REPORT=$(api -X POST "$BASE/api/v1/reports" -H "$AUTH" -d "{
  \"merchant\": {\"name\": \"星光游戏卡店\", \"identifiers\": [{\"kind\": \"qq\", \"value\": \"$QQ\"}]},
  \"loss\": {\"amount\": \"199.00\", \"currency\": \"CNY\"},
  \"incident_date\": \"$(date +%F)\",
  \"order_refs\": [\"XK-$RUN\"],
  \"statement\": \"付款后对方一直不发卡，随后把我拉黑。\"
}")
echo "$REPORT"
CASE=$(echo "$REPORT" | jq -r .case_id)

step "5. upload evidence (a chat log as text)"
printf '%s\n' "[2026-11-30 20:15] 我：已付款 199 元，订单 XK-$RUN" \
  "[2026-11-30 20:16] 店主：马上发卡" "[2026-12-01 09:00] 我：还没收到卡？（已被拉黑）" > "chat-$RUN.txt"
curl -sS --fail-with-body -H "$AUTH" "$BASE/api/v1/cases/$CASE/evidence" \
  -F "file=@chat-$RUN.txt;type=text/plain" -F kind=chat_log -F "description=与店主的聊天记录"
rm -f "chat-$RUN.txt"

step "6. consent to be named in the joint complaint"
api -X POST "$BASE/api/v1/cases/$CASE/consent" -H "$AUTH" -d '{"consent": true}'

step "7. build the complaint for a regulator reached over HTTP (make run: the demo regulator)"
REGULATOR=${REGULATOR:-$(api "$BASE/api/v1/regulators" | jq -r '[.items[] | select(.channel == "http")][0].id')}
COMPLAINT=$(api -X POST "$BASE/api/v1/cases/$CASE/complaints" -H "$AUTH" \
  -d "{\"regulator_id\": $REGULATOR}" | jq -r .id)
api "$BASE/api/v1/complaints/$COMPLAINT" -H "$AUTH" | jq -r '.markdown | split("\n")[:20] | join("\n")'

step "8. file it: queued, then the worker sends it"
FILING=$(api -X POST "$BASE/api/v1/cases/$CASE/filings" -H "$AUTH" \
  -d "{\"complaint_id\": $COMPLAINT}" | jq -r .id)

step "9. watch the filing's status"
STATUS=queued
for _ in $(seq "$WAIT"); do
  STATUS=$(api "$BASE/api/v1/filings/$FILING" -H "$AUTH" | jq -r .status)
  [ "$STATUS" != queued ] && break
  sleep 1
done
# the status named at the end is the one printed here: the regulator may answer in between
SHOWN=$(api "$BASE/api/v1/filings/$FILING" -H "$AUTH")
echo "$SHOWN" | jq '{status, reference, events: [.events[] | {at, status, source}]}'
STATUS=$(echo "$SHOWN" | jq -r .status)
case $STATUS in
  queued) echo "filing $FILING still queued after $WAIT s" >&2; exit 1 ;;
  failed) echo "filing $FILING failed (its events say why)" >&2; exit 1 ;;
esac
printf '\ntour done: case %s, filing %s is %s\n' "$CASE" "$FILING" "$STATUS"
