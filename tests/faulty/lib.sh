# Shared by the faulty_* test scripts (sourced): a work directory removed on
# exit with the server it started, and a faulty_server started on free ports.

# faulty_workdir: sets $dir (a fresh temporary directory) and $pid (empty);
# on exit the server $pid names is stopped and $dir removed.
faulty_workdir() {
  dir=$(mktemp -d) || exit 2
  pid=
  trap faulty_cleanup EXIT
  trap 'exit 2' HUP INT TERM
}
faulty_cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}

# start_faulty_server WHO SERVER ARGS...: starts SERVER --port 0 --port-file
# $dir/port ARGS (log in $dir/server.log) and waits at most 5 s for its port
# file, and for $dir/admin when ARGS name it; sets $pid and $port. WHO names
# the calling script in errors.
start_faulty_server() {
  who=$1 bin=$2
  shift 2
  "$bin" --port 0 --port-file "$dir/port" "$@" >"$dir/server.log" 2>&1 &
  pid=$!
  admin_file=
  case " $* " in *" $dir/admin "*) admin_file=$dir/admin ;; esac
  tries=0
  # The port files appear whole (written, then renamed).
  while [ ! -s "$dir/port" ] || { [ -n "$admin_file" ] && [ ! -s "$admin_file" ]; }; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$who: $bin exited early:" >&2
      cat "$dir/server.log" >&2
      exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 50 ]; then
      echo "$who: no port file after 5 s" >&2
      exit 1
    fi
    sleep 0.1 2>/dev/null || sleep 1
  done
  port=$(cat "$dir/port")
}

# live_verdict WHO BUG RULE RC OUT: prints OUT, the output of a live `syncsim
# run` (exit status RC) on a faulty peer, and exits with the verdict: with BUG
# none the run must pass (exit 0); with any other bug it must exit 1 with a
# failure naming RULE (a "      RULE: ..." line or a finding naming it).
live_verdict() {
  cat "$5"
  if [ "$2" = none ]; then
    [ "$4" -eq 0 ] || { echo "$1: the clean peer failed (exit $4)" >&2; exit 1; }
    exit 0
  fi
  if [ "$4" -ne 1 ]; then
    echo "$1: --bug $2: expected syncsim run to exit 1, got $4" >&2
    exit 1
  fi
  if ! grep -E "^  FAIL " -A40 "$5" | grep -Eq "(^|[^A-Z0-9-])$3([^0-9]|$)"; then
    echo "$1: --bug $2: no failure naming $3" >&2
    exit 1
  fi
  echo "$1: --bug $2 caught live under $3"
  exit 0
}
