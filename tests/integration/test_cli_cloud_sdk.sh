#!/bin/bash
# osrunner resolves clouds.yaml as openstacksdk does: the same fixture files
# through openstacksdk's own loader and through `osrunner cloud show --json`,
# compared on the cloud's name, auth_url, region, interface, cacert and cert.
# Also every vendor profile installed with python3-openstacksdk against the
# copy compiled into osrunner. Skips when openstacksdk is absent.
set -e
FIX="$(cd "$(dirname "$0")/../fixtures/clouds/sdk" && pwd)"
. "$(dirname "$0")/lib.sh"

if ! /usr/bin/python3 -c 'import openstack.config' 2>/dev/null; then
  echo "SKIP: openstacksdk is not installed (python3-openstacksdk)"
  exit 0
fi
cp "$FIX/clouds.yaml" "$FIX/clouds-public.yaml" "$T/"
chmod 600 "$T/clouds.yaml"
touch "$HOME/ca.pem"

# sdk CLOUDS_FILE PUBLIC_FILE [CLOUD...]: openstacksdk's view, one JSON line per
# cloud ("" or none: its default cloud).
sdk() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys, warnings
warnings.simplefilter("ignore")
from openstack.config import loader
cfg = loader.OpenStackConfig(config_files=[sys.argv[1]], vendor_files=[sys.argv[2]],
                             secure_files=[])
for name in sys.argv[3:] or [""]:
    r = cfg.get_one(cloud=name or None, validate=False)
    verify, cert = r.get_requests_verify_args()
    # The envvars cloud keeps OS_AUTH_URL at the top until an auth plugin loads it.
    print(json.dumps({"cloud": r.name,
                      "auth_url": r.config["auth"].get("auth_url") or r.config.get("auth_url"),
                      "region": r.region_name or "", "interface": r.config.get("interface"),
                      "cacert": verify if isinstance(verify, str) else None,
                      "cert": cert[0] if isinstance(cert, tuple) else cert}, sort_keys=True))
PY
}
# ours: the same fields from cloud show --json on stdin.
ours() {
  /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)
print(json.dumps({"cloud": c["cloud"], "auth_url": c["auth"].get("auth_url"),
                  "region": c.get("region_name", ""), "interface": c.get("interface"),
                  "cacert": c.get("cacert"), "cert": c.get("cert")}, sort_keys=True))'
}
# compare WHAT CLOUD|"" [VAR=value...]: osrunner and openstacksdk, same environment.
# With WANT set, that is openstacksdk's answer, computed before.
compare() {
  local what=$1 cloud=$2; shift 2
  local -a envs=(HOME="$HOME" PATH=/usr/bin:/bin "$@")
  local got want=${WANT:-}
  [ -n "$want" ] || want=$(env -i "${envs[@]}" bash -c "$(declare -f sdk); sdk '$T/clouds.yaml' '$T/clouds-public.yaml' $cloud" 2>"$T/sdk.err") || {
    bad "$what: openstacksdk failed: $(tail -1 "$T/sdk.err")"; return; }
  got=$(env -i "${envs[@]}" OS_CLIENT_CONFIG_FILE="$T/clouds.yaml" ${cloud:+OS_CLOUD=$cloud} \
        "$OSRUNNER" cloud show --json 2>"$T/ours.err" | ours) || {
    bad "$what: osrunner failed: $(cat "$T/ours.err")"; return; }
  if [ "$want" = "$got" ]; then
    ok "$what"
  else
    bad "$what"; echo "  openstacksdk: $want"; echo "  osrunner:     $got"
  fi
}

compare "endpoint_type is interface" endpoint-type
# Left out on purpose, where osrunner differs (tests/unit/test_clouds.c has them):
# with both endpoint_type and interface, openstacksdk takes endpoint_type, osrunner
# interface; openstacksdk ignores endpoint-type (it renames endpoint_type before it
# normalises dashes), osrunner reads it as interface.
compare "dashed keys at every level" dashed
compare "regions: the first" regions-names
compare "regions: {name, values} apply over the cloud" regions-values
compare "a list in region_name" region-list
compare "profile from clouds-public.yaml, {region_name}" public-profile
compare "profile, region_name from the cloud" public-profile-region
compare "vendor profile with {region_name}" vendor-profile
compare "the old key 'cloud' for a profile" old-cloud-key
compare "domain-scoped password auth" domain-scoped
compare "~ in cacert and cert" tilde
compare "OS_CLOUD names a file cloud: OS_* do not apply" endpoint-type \
  OS_AUTH_URL=https://env.example.com/v3 OS_REGION_NAME=ENV OS_INTERFACE=admin
compare "envvars beside the file is the default" "" \
  OS_AUTH_URL=https://env.example.com/v3 OS_USERNAME=u OS_PASSWORD=p OS_PROJECT_NAME=p \
  OS_REGION_NAME=ENV
compare "OS_CLOUD=envvars beside the file" envvars \
  OS_AUTH_URL=https://env.example.com/v3 OS_USERNAME=u OS_PASSWORD=p OS_PROJECT_NAME=p

# Every installed vendor profile: openstacksdk's own data against ours.
/usr/bin/python3 - "$T/vendors.yaml" >"$T/vendors.list" <<'PY'
import sys, yaml
from openstack.config import vendors
clouds = {}
for name, prof in sorted(vendors._get_vendor_defaults().items()):
    if "profile" in prof:  # a remote profile (fetched from the vendor's site): not carried
        continue
    if str(prof.get("identity_api_version", "3")) != "3":
        print(name, "v2")  # osrunner refuses identity v2
        continue
    if not prof.get("auth", {}).get("auth_url"):
        print(name, "no-auth-url")  # the user must give it, to either loader
        continue
    clouds["v-" + name] = {"profile": name,
                           "auth": {"username": "u", "password": "p", "project_name": "x"}}
    print(name, "v3")
yaml.safe_dump({"clouds": clouds}, open(sys.argv[1], "w"))
PY
cp "$T/vendors.yaml" "$T/clouds.yaml"
chmod 600 "$T/clouds.yaml"
# shellcheck disable=SC2046
env -i HOME="$HOME" PATH=/usr/bin:/bin bash -c "$(declare -f sdk); sdk '$T/clouds.yaml' '$T/clouds-public.yaml' $(awk '$2 == "v3" { print "v-" $1 }' "$T/vendors.list" | tr '\n' ' ')" \
  >"$T/vendors.sdk" 2>"$T/sdk.err" || bad "openstacksdk on the vendor profiles: $(tail -1 "$T/sdk.err")"
NV=0
while read -r name version; do
  [ "$version" = v3 ] || continue
  NV=$((NV + 1))
  WANT=$(sed -n "${NV}p" "$T/vendors.sdk") compare "vendor profile $name" "v-$name"
done <"$T/vendors.list"
check "vendor profiles compared (at least 15)" [ "$NV" -ge 15 ]
finish
