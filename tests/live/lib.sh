# Shared by the live test scripts (sourced): port_of LOG PREFIX prints the
# port a program's banner names after PREFIX, waiting up to 5 s for it.
port_of() {
  i=0
  while [ $i -lt 100 ]; do
    p=$(sed -n "s|.*$2\([0-9]*\).*|\1|p" "$1" 2>/dev/null | head -n 1)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05; i=$((i + 1))
  done
  echo "FAIL: no port in $1" >&2; cat "$1" >&2; exit 1
}
