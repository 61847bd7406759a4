#!/bin/sh
# hook_target.sh SYNCSIM SERVER_PORT ADMIN_PORT [JWT_SECRET]
# Prints a target file for a faulty_server on 127.0.0.1: its address, its JWT
# secret (when given), and hooks that reach its admin port through `syncsim
# admin` (D132), each bounded (hook_timeout_s 5).
set -u
admin="'$1' admin tcp://127.0.0.1:$3 --timeout 3"
echo "server: tcp://127.0.0.1:$2"
if [ -n "${4:-}" ]; then echo "jwt_secret: \"$4\""; fi
echo "hooks:"
echo "  purge: \"$admin purge {tenant} {collection}\""
echo "  server_write: \"$admin write {tenant} {collection} {document} {value_hex}\""
echo "  define: \"$admin define {tenant} {type} {name} {action} {json}\""
echo "hook_timeout_s: 5"
