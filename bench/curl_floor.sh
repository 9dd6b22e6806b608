#!/bin/bash
# The floor for bench/launch.sh: raw concurrent curl creates, then one list
# request every 0.5 s until every server is ACTIVE. No client logic beyond
# that. Usage: curl_floor.sh CLOUD_STATE_DIR PREFIX COUNT IMAGE_ID FLAVOR_ID
set -euo pipefail
S=$1 PREFIX=$2 COUNT=$3 IMAGE=$4 FLAVOR=$5
. "$S/env.sh"
PW=$(/usr/bin/python3 -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["clouds"]["ostb-admin"]["auth"]["password"])' "$OS_CLIENT_CONFIG_FILE")
TOKEN=$(curl -sf -i -H 'Content-Type: application/json' \
  -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"},\"password\":\"$PW\"}}},\"scope\":{\"project\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"}}}}}" \
  "$OSR_CLOUD_KEYSTONE/auth/tokens" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r')
export TOKEN OSR_CLOUD_NOVA IMAGE FLAVOR PREFIX
seq 1 "$COUNT" | xargs -P "$COUNT" -I{} sh -c 'curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" \
  -H "Content-Type: application/json" -H "OpenStack-API-Version: compute 2.37" \
  -d "{\"server\":{\"name\":\"$PREFIX-{}\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":\"none\",\"metadata\":{\"managed-by\":\"osrunner-bench\"}}}" \
  "$OSR_CLOUD_NOVA/servers"'
while :; do
  active=$(curl -sf -H "X-Auth-Token: $TOKEN" "$OSR_CLOUD_NOVA/servers/detail?name=^$PREFIX-" |
    /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(sum(x["status"]=="ACTIVE" for x in s), sum(x["status"]=="ERROR" for x in s))')
  set -- $active
  [ "$2" = 0 ] || { echo "curl_floor: $2 servers in ERROR" >&2; exit 1; }
  [ "$1" = "$COUNT" ] && break
  sleep 0.5
done
