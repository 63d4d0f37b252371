#!/bin/sh
# Site PKI for AccessControl's MQTT broker (issue 5, item 4: device identity on the wire), with openssl only.
#
#   issue-certs.sh [--out DIR] [--days N] issue SITE_FILE [HOSTNAME...]
#       Creates, if missing: the site CA (DIR/ca.crt, DIR/ca.key), the broker's certificate (DIR/broker.crt,
#       DIR/broker.key; SANs 127.0.0.1, localhost and every HOSTNAME), one client certificate per reader, door
#       controller and fire panel id of SITE_FILE plus ac-service and ac-monitor (DIR/devices/ID.crt, DIR/devices/ID.key; CN = id),
#       and the CRL (DIR/crl.pem). Safe to run again: what exists is kept; only new devices get certificates.
#   issue-certs.sh [--out DIR] [--days N] server HOSTNAME...
#       Issues a new broker certificate (rotation); the old one stays valid until it expires.
#   issue-certs.sh [--out DIR] revoke DEVICE_ID
#       Revokes the device's current certificate, moves it to DIR/devices/revoked/ and writes a new CRL.
#       Run `issue` again to give the (recovered) device a new certificate.
#   issue-certs.sh [--out DIR] crl
#       Writes a fresh CRL. Do it at least every 30 days (cron): an expired CRL makes Mosquitto and the embedded
#       broker refuse every client.
#
# Keys are ECDSA P-256 and written owner-only (umask 077). DIR defaults to ./pki. The CA's bookkeeping
# (openssl ca index, serial, CRL number) lives in DIR/.ca/. Keep DIR/ca.key offline if you can; everything the
# brokers need is ca.crt, broker.crt, broker.key and crl.pem. See docs/operations.md, "TLS and device certificates".
set -eu
umask 077
# openssl.cnf reads the broker certificate's SANs from here; any value will do for other commands.
AC_SAN=DNS:localhost
export AC_SAN

out=./pki
days=825
crl_days=30

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
command=$1; shift

ca_dir="$out/.ca"
cnf="$ca_dir/openssl.cnf"

ensure_ca() {
  mkdir -p "$out/devices/revoked" "$ca_dir/newcerts"
  [ -f "$ca_dir/index.txt" ] || : > "$ca_dir/index.txt"
  [ -f "$ca_dir/crlnumber" ] || echo 01 > "$ca_dir/crlnumber"
  cat > "$cnf" <<CNF
[ ca ]
default_ca = site_ca
[ site_ca ]
dir = $ca_dir
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
rand_serial = yes
crlnumber = \$dir/crlnumber
certificate = $out/ca.crt
private_key = $out/ca.key
default_md = sha256
default_days = $days
default_crl_days = $crl_days
policy = policy_cn
unique_subject = no
copy_extensions = none
[ policy_cn ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ client_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \${ENV::AC_SAN}
CNF
  if [ ! -f "$out/ca.crt" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key.tmp"
    openssl pkcs8 -topk8 -nocrypt -in "$out/ca.key.tmp" -out "$out/ca.key" && rm -f "$out/ca.key.tmp"
    openssl req -config "$cnf" -new -x509 -key "$out/ca.key" -subj "/CN=AccessControl site CA" \
      -days 3650 -extensions ca_ext -out "$out/ca.crt"
    chmod 644 "$out/ca.crt"
    echo "created the site CA: $out/ca.crt"
  fi
}

# issue NAME EXTENSIONS FILE_PREFIX: a new key and certificate with CN=NAME, signed by the CA.
issue() {
  name=$1; ext=$2; prefix=$3
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$prefix.key.new"
  openssl req -config "$cnf" -new -key "$prefix.key.new" -subj "/CN=$name" -out "$prefix.csr"
  openssl ca -config "$cnf" -batch -notext -extensions "$ext" -in "$prefix.csr" -out "$prefix.crt.new" 2>/dev/null
  rm -f "$prefix.csr"
  mv "$prefix.key.new" "$prefix.key"
  mv "$prefix.crt.new" "$prefix.crt"
  chmod 600 "$prefix.key"
  chmod 644 "$prefix.crt"
}

server_cert() {
  san="IP:127.0.0.1,DNS:localhost"
  cn=localhost
  for host in "$@"; do
    case "$host" in
      *[!0-9.]*) san="$san,DNS:$host" ;;
      *) san="$san,IP:$host" ;;
    esac
    cn=$host
  done
  AC_SAN=$san issue "$cn" server_ext "$out/broker"
  echo "issued the broker certificate $out/broker.crt ($san)"
}

# The ids of every device of a site file that logs in to the broker: list items with an id under the top-level
# readers: and controllers:, and the fire panels (firePanels: [a, b] or a block list of ids). A panel left out could
# not connect over mutual TLS, and its fire alarm would release no door.
device_ids() {
  awk '
    /^[A-Za-z]/ { section = $1 }
    section == "readers:" || section == "controllers:" {
      if (match($0, /^[ \t]*-[ \t]*\{?[ \t]*id:[ \t]*[^,} \t]+/)) {
        id = substr($0, RSTART, RLENGTH); sub(/.*id:[ \t]*/, "", id); gsub(/["\047]/, "", id); print id
      }
    }
    /^firePanels:[ \t]*\[/ {
      line = $0; sub(/#.*/, "", line); sub(/^firePanels:[ \t]*\[/, "", line); sub(/\].*/, "", line)
      n = split(line, ids, ",")
      for (i = 1; i <= n; i++) { id = ids[i]; gsub(/[ \t"\047]/, "", id); if (id != "") print id }
    }
    section == "firePanels:" && /^[ \t]+-/ {
      id = $0; sub(/#.*/, "", id); sub(/^[ \t]+-/, "", id); gsub(/[ \t"\047]/, "", id); if (id != "") print id
    }' "$1"
}

write_crl() {
  openssl ca -config "$cnf" -gencrl -out "$out/crl.pem.new" 2>/dev/null
  chmod 644 "$out/crl.pem.new"
  mv "$out/crl.pem.new" "$out/crl.pem"
  echo "wrote $out/crl.pem (valid $crl_days days)"
}

case "$command" in
  issue)
    [ $# -ge 1 ] || usage
    site=$1; shift
    [ -f "$site" ] || { echo "no site file $site" >&2; exit 2; }
    ensure_ca
    [ -f "$out/broker.crt" ] || server_cert "$@"
    for id in ac-service ac-monitor $(device_ids "$site"); do
      case "$id" in
        *[!A-Za-z0-9._-]*) echo "refusing odd device id '$id'" >&2; exit 2 ;;
      esac
      if [ ! -f "$out/devices/$id.crt" ]; then
        issue "$id" client_ext "$out/devices/$id"
        echo "issued $out/devices/$id.crt"
      fi
    done
    [ -f "$out/crl.pem" ] || write_crl
    ;;
  server)
    [ $# -ge 1 ] || usage
    ensure_ca
    server_cert "$@"
    ;;
  revoke)
    [ $# -eq 1 ] || usage
    id=$1
    ensure_ca
    [ -f "$out/devices/$id.crt" ] || { echo "no current certificate for $id in $out/devices" >&2; exit 2; }
    openssl ca -config "$cnf" -revoke "$out/devices/$id.crt" -crl_reason keyCompromise 2>/dev/null
    serial=$(openssl x509 -in "$out/devices/$id.crt" -noout -serial | cut -d= -f2)
    mv "$out/devices/$id.crt" "$out/devices/revoked/$id-$serial.crt"
    rm -f "$out/devices/$id.key"
    echo "revoked $id (serial $serial)"
    write_crl
    ;;
  crl)
    ensure_ca
    write_crl
    ;;
  *) usage ;;
esac
