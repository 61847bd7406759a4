#!/bin/sh
# package.find_package_consumer: `cmake --install` the build into a fresh
# prefix, configure and build tests/package/consumer against it with
# find_package(syncsim), and run it: it must decode the golden Ping and the
# checker must flag a Ping before the Handshake as HS-1.
# Usage: consume.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -eu
build=$1 src=$2 out=$3
rm -rf "$out"
cmake --install "$build" --prefix "$out/prefix" >/dev/null
test -x "$out/prefix/bin/syncsim" || { echo "syncsim was not installed" >&2; exit 1; }
cmake -S "$src/tests/package/consumer" -B "$out/build" -DCMAKE_PREFIX_PATH="$out/prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1 || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out/build" >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
"$out/build/consumer" > "$out/output.txt"
cat "$out/output.txt"
grep -q '^decoded: {"msg_type":255,"name":"Ping","value":{"timestamp_ms":12345,"is_pong":false}}$' "$out/output.txt" ||
  { echo "the consumer did not decode the golden Ping" >&2; exit 1; }
grep -q '^finding: HS-1 (MUST)' "$out/output.txt" ||
  { echo "the consumer's checker did not flag HS-1" >&2; exit 1; }
