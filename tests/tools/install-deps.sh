#!/usr/bin/env bash
# Installs what the build and the tests need and is not there yet:
# Debian packages (arguments before --) and npm packages (directories after --).
set -euo pipefail
apt_pkgs=(); npm_dirs=(); seen_sep=0
for a in "$@"; do
  if [ "$a" = "--" ]; then seen_sep=1; continue; fi
  if [ $seen_sep -eq 0 ]; then apt_pkgs+=("$a"); else npm_dirs+=("$a"); fi
done

missing=()
for p in "${apt_pkgs[@]}"; do
  # nodejs/npm may come from elsewhere on a developer machine: a working command is enough.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for d in "${npm_dirs[@]}"; do
  [ -f "$d/package.json" ] || continue
  stamp="$d/node_modules/.parley-stamp"
  if [ ! -f "$stamp" ] || [ "$d/package-lock.json" -nt "$stamp" ] || [ "$d/package.json" -nt "$stamp" ]; then
    echo "installing npm packages in $d"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
  fi
done
