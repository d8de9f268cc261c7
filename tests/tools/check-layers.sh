#!/usr/bin/env bash
# Checks the layering of core/: every #include "..." in core/*.c, core/*.h (and the public
# headers under core/include/) may name a header of its own layer or a lower one, never a higher
# one. Prints file:line for each violation and exits 1; a file or header missing from the table
# also fails, so that the table stays complete. Usage: tests/tools/check-layers.sh [ROOT]
#
# The layer table, lowest first: layer number, layer name, modules. A module is a file name
# without .c/.h (foo.c and foo.h are one module) or a header path as it is included.
LAYERS='
0  base       base64 clock log cli buf map deadline json config error rand barrier peers lua_alloc parley/plugin.h parley/version.h
1  codecs     eio_codec sio_codec token msgpack_codec
2  hooks      hooks
3  conn       conn
4  eio        eio eio_echo
4  process    server
5  nsp        nsp client
6  socket     ack adapter socket bot redis_link redis_adapter
7  sio        sio
8  history    history history_schema recovery retention checkpoint history_cli history_stream
9  api        api requests plugin lua_json lua_host token_cli
10 apps       app_chat apps
11 transport  transport http
12 main       main
'
# (parley/plugin.h is the extension API's types and table, self-contained, so every layer may
# name its types; hooks.c is a pure registry of handlers over those types. server.h is the
# process object: in layer 4, it may be included from layer 4 up, and it may itself include only
# layers 0 to 4, declaring the structs of higher layers it points to. Inside a layer, files may
# include each other: adapter.h and ack.h sit beside socket.c.)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

declare -A layer name
while read -r num lname mods; do
	[ -n "$num" ] || continue
	for m in $mods; do
		layer[$m]=$num
		name[$m]=$lname
	done
done <<<"$LAYERS"

# The module of a file or of an included path: the path itself when the table lists it
# (parley/plugin.h), else its file name without directory and extension.
module_of() {
	local p=$1
	if [ -n "${layer[$p]+x}" ]; then echo "$p"; return; fi
	p=${p##*/}
	echo "${p%.[ch]}"
}

status=0
shopt -s nullglob globstar
for f in core/*.c core/*.h core/include/**/*.h; do
	self=$(module_of "${f#core/include/}") # a public header is named as it is included
	if [ -z "${layer[$self]+x}" ]; then
		echo "$f: module '$self' is not in the layer table of tests/tools/check-layers.sh"
		status=1
		continue
	fi
	while IFS=: read -r line text; do
		inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1/' <<<"$text")
		dep=$(module_of "$inc")
		if [ -z "${layer[$dep]+x}" ]; then
			echo "$f:$line: includes \"$inc\", whose module '$dep' is not in the layer table"
			status=1
		elif [ "${layer[$dep]}" -gt "${layer[$self]}" ]; then
			echo "$f:$line: $self (layer ${layer[$self]} ${name[$self]}) includes" \
				"\"$inc\" (layer ${layer[$dep]} ${name[$dep]})"
			status=1
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done
if [ $status -eq 0 ]; then
	echo "check-layers: every include in core/ names its own layer or a lower one"
fi
exit $status
