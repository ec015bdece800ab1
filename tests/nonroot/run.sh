#!/usr/bin/env bash
# Runs the sandbox-machine core tests (core/tests/machine.rs) as an unprivileged user, so the
# README's non-root story stays true. Called by `make test-nonroot` (part of `make test`) when
# running as root; creates the user (and its /etc/subuid range, for newuidmap) if missing.
set -euo pipefail
user=corral-nonroot
apt_install() {
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@"
}
command -v newuidmap >/dev/null 2>&1 || apt_install uidmap
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
if ! grep -q "^$user:" /etc/subuid 2>/dev/null; then
  usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$user"
fi
bin=$(cargo test -q -p corral-core --test machine --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "machine":
        print(m["executable"])')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/machine"
chmod 755 "$dir" "$dir/machine"
cd "$dir"
# The machine's TLS trust settings, as a user of it has them (behind a TLS-inspecting proxy,
# the sandbox's uv and pip need them to reach PyPI).
trust=()
for v in SSL_CERT_FILE SSL_CERT_DIR PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO; do
  if [ -n "${!v:-}" ]; then trust+=("$v=${!v}"); fi
done
runuser -u "$user" -- env -i HOME="/home/$user" PATH=/usr/local/bin:/usr/bin:/bin "${trust[@]}" \
  "$dir/machine" --test-threads 2
