#!/usr/bin/env bash
# Builds modeld's Dockerfile with podman on a machine that reaches no image registry, and runs
# the image the way deploy/kubernetes/base does (non-root, read-only root filesystem, /tmp and the
# data directory writable), then asks it for /readyz and a token. Optional: not part of CI.
#
#   sudo bash scripts/prove-image.sh
#
# The Dockerfile's base image (node:20.20-bookworm-slim) cannot be pulled here, so a stand-in
# with the same name is made first: Debian bookworm (debootstrap, minbase) with this machine's
# Node.js 20, its headers and npm. The stand-in also carries python3, make and g++, because
# better-sqlite3's prebuilt binary is downloaded from GitHub (unreachable here) and npm then
# compiles it; the real base image does not need them where GitHub is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
work=${PROVE_IMAGE_DIR:-/var/tmp/modeld-prove-image}
mkdir -p "$work"

for bin in podman buildah debootstrap runc; do command -v "$bin" >/dev/null || missing="${missing:-} $bin"; done
if [ -n "${missing:-}" ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends podman buildah debootstrap runc uidmap; fi
mkdir -p /etc/containers
if ! grep -qs 'runtime = "runc"' /etc/containers/containers.conf; then
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
fi

if ! podman image exists localhost/node:20.20-bookworm-slim; then
  rootfs="$work/rootfs"
  if [ ! -x "$rootfs/usr/bin/g++" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates,python3,make,g++ bookworm "$rootfs" http://deb.debian.org/debian
  fi
  install -D -m 0755 "$(command -v node)" "$rootfs/usr/local/bin/node"
  rm -rf "$rootfs/usr/local/lib/node_modules/npm"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$rootfs/usr/local/lib/node_modules/npm"
  # Node's headers, where the official image has them too: node-gyp builds against them instead
  # of downloading them from nodejs.org (unreachable here).
  rm -rf "$rootfs/usr/local/include/node" && mkdir -p "$rootfs/usr/local/include" && cp -a /usr/include/node "$rootfs/usr/local/include/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # This machine reaches the npm registry through a TLS proxy of its own: the stand-in trusts the
  # same certificate authorities (a machine with direct access needs none of this).
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  tar -C "$rootfs" -c . | podman import --change 'CMD ["node"]' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'ENV npm_config_nodedir=/usr/local' - localhost/node:20.20-bookworm-slim
fi

podman build --network host -t localhost/modeld:proof .

name=modeld-proof
podman rm -f "$name" >/dev/null 2>&1 || true
podman volume rm -f modeld-proof-data >/dev/null 2>&1 || true
podman volume create modeld-proof-data >/dev/null
# The data volume belongs to the image's user, as fsGroup 10001 makes it in the manifests.
podman run --rm -v modeld-proof-data:/var/lib/modeld --user 0 --entrypoint /bin/sh localhost/modeld:proof -c 'chown 10001:10001 /var/lib/modeld'
podman run -d --name "$name" --read-only --tmpfs /tmp --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges \
  -v modeld-proof-data:/var/lib/modeld -p 127.0.0.1:18080:8080 localhost/modeld:proof >/dev/null
trap 'status=$?; [ $status -eq 0 ] || podman logs "$name" 2>&1 | tail -20; podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 120); do
  if curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -fsS http://127.0.0.1:18080/readyz
echo
creds=$(podman exec "$name" cat /var/lib/modeld/admin-credentials.json)
id=$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$creds")
secret=$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$creds")
curl -fsS -u "$id:$secret" -d grant_type=client_credentials http://127.0.0.1:18080/oauth2/token | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s);console.log("token:", t.token_type, t.expires_in, "s, scopes", t.scope)})'
podman exec "$name" sh -c 'id; touch /app/x 2>&1 || echo "root filesystem is read-only"'
podman image inspect localhost/modeld:proof --format 'image: {{.Size}} bytes, user {{.Config.User}}'
echo "prove-image: passed"
