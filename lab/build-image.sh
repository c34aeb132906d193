#!/usr/bin/env bash
# Build (or reuse) the lab's Debian 12 hypervisor image with mmdebstrap.
# The cache is keyed by a hash of the build inputs (this script, image/*), so an
# unchanged lab reuses lab/cache/<key>/ and `make lab-down` (lab/out only)
# never forces a rebuild. Prints the cache directory on stdout.
#   lab/cache/<key>/base.raw  ext4 root file system (read-only backing of the VMs)
#   lab/cache/<key>/vmlinuz, initrd.img  the image's own kernel and initrd
set -euo pipefail
cd "$(dirname "$0")"
LAB=$PWD
SUITE=bookworm
MIRROR=${VPE_LAB_MIRROR:-http://deb.debian.org/debian}
SECURITY=${VPE_LAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SIZE=${VPE_LAB_IMAGE_SIZE:-4G}

KEY=$( { echo "$SUITE $MIRROR $SECURITY $SIZE"; cat build-image.sh; find image -type f | LC_ALL=C sort | xargs cat; } \
      | sha256sum | cut -c1-16)
OUT=$LAB/cache/$KEY
if [ -f "$OUT/done" ]; then
  echo "image: reusing $OUT" >&2; echo "$OUT"; exit 0
fi

"$LAB/host-deps.sh" >&2
mkdir -p "$LAB/cache"
WORK=$(mktemp -d "$LAB/cache/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PKGS=$(grep -v '^\s*\(#\|$\)' image/packages.txt | paste -sd, -)
start=$(date +%s)
# --variant=apt: essential + apt, then our packages without their Recommends.
mmdebstrap --variant=apt --mode=root --include="$PKGS" \
  --customize-hook="$LAB/image/customize.sh \"\$1\"" \
  --customize-hook="cp \"\$1\"/boot/vmlinuz-* $WORK/vmlinuz && cp \"\$1\"/boot/initrd.img-* $WORK/initrd.img" \
  "$SUITE" "$WORK/root" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main" >&2
# ext4 straight from the directory: no loop mount, nothing to unmount.
mkfs.ext4 -q -F -L vpelab -d "$WORK/root" "$WORK/base.raw" "$SIZE" >&2
chmod 0644 "$WORK/vmlinuz" "$WORK/initrd.img"
rm -rf "$WORK/root"
echo "image built in $(( $(date +%s) - start ))s" >&2
# Keep one image: older keys are stale inputs.
for old in "$LAB"/cache/*/; do
  case "$old" in "$WORK"/|"$OUT"/) ;; *) [ -f "$old/done" ] && rm -rf "$old" ;; esac
done
date -u +%FT%TZ >"$WORK/done"
mv "$WORK" "$OUT"
trap - EXIT
echo "$OUT"
