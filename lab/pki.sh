#!/usr/bin/env bash
# The lab's CA and one server certificate per VM (SAN: its name and lab
# address), so the shims listen on the lab network with TLS that the
# controller side verifies (curl --cacert, Prometheus tls_config.ca_file).
# Usage: lab/pki.sh OUT_DIR; idempotent (keeps what exists).
set -euo pipefail
cd "$(dirname "$0")"
. ./lab.conf
P=$1/pki
mkdir -p "$P"; chmod 0700 "$P"
if [ ! -f "$P/ca.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=vpe lab CA" -keyout "$P/ca.key" -out "$P/ca.crt" 2>/dev/null
fi
for vm in "${LAB_VMS[@]}"; do
  read -r name _ octet <<<"$vm"
  [ -f "$P/$name.crt" ] && continue
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$P/$name.key" -out "$P/$name.csr" 2>/dev/null
  openssl x509 -req -in "$P/$name.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$name" "$LAB_NET.$octet") \
    -out "$P/$name.crt" 2>/dev/null
  rm -f "$P/$name.csr"
done
