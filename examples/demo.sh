#!/bin/sh
# The pysops demo: make an age key in a throw-away config dir, encrypt every example, decrypt one.
# Runs with nothing but pysops installed (no cloud account, no gpg).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME="$work/config" HOME="$work"
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS 2>/dev/null || true

echo "== 1. a new age identity in $XDG_CONFIG_HOME/sops/age/keys.txt"
recipient=$(pysops keygen 2>/dev/null)
echo "recipient: $recipient"

echo "== 2. encrypt every example for it"
mkdir -p "$work/enc"
for f in app.yaml app.json app.env app.ini; do
    pysops encrypt --age "$recipient" "$here/$f" > "$work/enc/$f"
    echo "encrypted $f -> $(wc -c < "$work/enc/$f") bytes"
done
echo "-- app.yaml, encrypted (comments and layout kept):"
sed -n '1,8p' "$work/enc/app.yaml"

echo "== 3. decrypt app.yaml with the identity from the default location"
pysops decrypt "$work/enc/app.yaml" > "$work/app.yaml"
cat "$work/app.yaml"
if cmp -s "$work/app.yaml" "$here/app.yaml"; then
    echo "== decrypt(encrypt(app.yaml)) is byte-for-byte the original"
else
    echo "!! round trip differs" >&2; exit 1
fi
echo "== 4. one value: pysops decrypt --extract '[\"database\"][\"password\"]'"
pysops decrypt --extract '["database"]["password"]' "$work/enc/app.yaml"; echo
echo "== 5. the repo's .sops-policy.yaml encrypts examples/ for the demo key"
(
    cd "$here/.."
    export SOPS_AGE_KEY_FILE=examples/demo-age-key.txt
    pysops encrypt examples/app.env | pysops decrypt --input-type dotenv --output-type dotenv
)
echo "demo ok"
