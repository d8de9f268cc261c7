#!/usr/bin/env bash
# Installs what the build and the tests need and is not there yet:
# Debian packages (arguments before --) and npm packages (directories after --).
# The package name @clang-rt stands for the sanitizer runtime of the clang that `clang` is or
# installs (libclang-rt-14-dev on Debian 12), so that the list names no clang version.
set -euo pipefail
apt_pkgs=(); npm_dirs=(); seen_sep=0
for a in "$@"; do
  if [ "$a" = "--" ]; then seen_sep=1; continue; fi
  if [ $seen_sep -eq 0 ]; then apt_pkgs+=("$a"); else npm_dirs+=("$a"); fi
done

# The major version of clang: the installed one, else the one the clang package depends on,
# else 14 (Debian 12's).
clang_major() {
  local v=""
  if command -v clang >/dev/null; then v=$(clang -dumpversion 2>/dev/null | cut -d. -f1); fi
  if [ -z "$v" ]; then
    v=$(apt-cache depends clang 2>/dev/null | sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' |
      head -n 1)
  fi
  echo "${v:-14}"
}

# Fills `missing` with the packages of apt_pkgs, names resolved, that are not installed.
find_missing() {
  missing=()
  for p in ${apt_pkgs[@]+"${apt_pkgs[@]}"}; do
    case "$p" in
      @clang-rt) p="libclang-rt-$(clang_major)-dev" ;;
      # nodejs/npm may come from elsewhere on a developer machine: a working command is enough.
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
}

find_missing
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  find_missing # again: with the package lists in place, @clang-rt resolves for this release
  echo "installing Debian packages: ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for d in ${npm_dirs[@]+"${npm_dirs[@]}"}; do
  [ -f "$d/package.json" ] || continue
  stamp="$d/node_modules/.parley-stamp"
  if [ ! -f "$stamp" ] || [ "$d/package-lock.json" -nt "$stamp" ] || [ "$d/package.json" -nt "$stamp" ]; then
    echo "installing npm packages in $d"
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
  fi
done
