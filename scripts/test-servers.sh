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
# Exports:
#   DEVPILOT_TEST_MOTO_AUTH  path of .test-servers/moto-auth.json (moto S3 with auth ON: endpoint,
#                            region, bucket, keys of an s3:* user and of a user with no policy)
#   DEVPILOT_TEST_WEBDRIVER  http://127.0.0.1:PORT of a chromedriver
#   DEVPILOT_TEST_CHROMIUM   /usr/bin/chromium
#   DEVPILOT_TEST_PG         postgres://postgres@127.0.0.1:5432 (trust auth)
#
# Everything started here is recorded by PID (.test-servers/pids) and stopped by
# stop_test_servers. Logs: .test-servers/logs/.

TS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TS_DIR="$TS_ROOT/.test-servers"
TS_LOGS="$TS_DIR/logs"
TS_VENV="$TS_DIR/venv"
TS_PIDFILE="$TS_DIR/pids"
TS_MOTO_SPEC='moto[server]>=5,<6'
TS_PG_URL='postgres://postgres@127.0.0.1:5432'
TS_PIDS=()
TS_STARTED_PG=""

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
ts_apt_ensure() {
    local missing=() p
    for p in "$@"; do ts_deb_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    ts_log "apt-get install ${missing[*]}"
    ts_as_root apt-get update -qq || return 1
    ts_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$TS_LOGS/apt.log" 2>&1 \
        || { tail -n 30 "$TS_LOGS/apt.log" >&2; ts_die "apt-get install ${missing[*]} failed"; }
}

ts_venv_ensure() {
    if [ -x "$TS_VENV/bin/moto_server" ] && "$TS_VENV/bin/python" -c 'import boto3, moto' 2>/dev/null; then
        return 0
    fi
    ts_log "creating Python venv $TS_VENV with $TS_MOTO_SPEC boto3"
    rm -rf "$TS_VENV"
    python3 -m venv "$TS_VENV" || return 1
    "$TS_VENV/bin/pip" install -q "$TS_MOTO_SPEC" boto3 >"$TS_LOGS/pip.log" 2>&1 \
        || { tail -n 30 "$TS_LOGS/pip.log" >&2; ts_die "pip install failed"; }
}

ts_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
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

ts_chromedriver_ready() {
    curl -sf --max-time 2 "$1/status" | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["value"]["ready"] else 1)'
}

ts_start_moto() {
    local port url py="$TS_VENV/bin/python"
    port="$(ts_free_port)" || return 1
    url="http://127.0.0.1:$port"
    ts_spawn moto "$TS_VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
    ts_wait_until moto "$TS_LAST_PID" 60 ts_http_answers "$url/moto-api/" || return 1
    # boto3 must not pick up a developer's ~/.aws profile or keys.
    local -a pyenv=(env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)
    "${pyenv[@]}" "$py" "$TS_ROOT/scripts/moto_setup.py" setup --endpoint "$url" --out "$TS_DIR/moto-auth.json" \
        || ts_die "moto setup failed" || return 1
    local code
    code="$(curl -s -o "$TS_LOGS/moto-reset-auth.out" -w '%{http_code}' --max-time 10 \
        -X POST -H 'Content-Type: text/plain' --data 0 "$url/moto-api/reset-auth")"
    [ "$code" = "200" ] || ts_die "switching moto auth on answered HTTP $code" || return 1
    "${pyenv[@]}" "$py" "$TS_ROOT/scripts/moto_setup.py" verify --auth "$TS_DIR/moto-auth.json" >&2 || return 1
    export DEVPILOT_TEST_MOTO_AUTH="$TS_DIR/moto-auth.json"
    ts_log "moto S3 (auth on) at $url"
}

ts_start_chromedriver() {
    local port url
    port="$(ts_free_port)" || return 1
    url="http://127.0.0.1:$port"
    # chromedriver listens on loopback only unless --allowed-ips is given.
    ts_spawn chromedriver /usr/bin/chromedriver --port="$port"
    ts_wait_until chromedriver "$TS_LAST_PID" 30 ts_chromedriver_ready "$url" || return 1
    export DEVPILOT_TEST_WEBDRIVER="$url"
    export DEVPILOT_TEST_CHROMIUM=/usr/bin/chromium
    ts_log "chromedriver at $url"
}

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

ts_write_env_file() {
    {
        printf 'export DEVPILOT_TEST_MOTO_AUTH=%q\n' "$DEVPILOT_TEST_MOTO_AUTH"
        printf 'export DEVPILOT_TEST_WEBDRIVER=%q\n' "$DEVPILOT_TEST_WEBDRIVER"
        printf 'export DEVPILOT_TEST_CHROMIUM=%q\n' "$DEVPILOT_TEST_CHROMIUM"
        printf 'export DEVPILOT_TEST_PG=%q\n' "$DEVPILOT_TEST_PG"
    } >"$TS_DIR/env"
}

start_test_servers() {
    mkdir -p "$TS_LOGS" || return 1
    : >"$TS_PIDFILE"
    ts_apt_ensure chromium chromium-driver || return 1
    ts_venv_ensure || return 1
    ts_ensure_postgres || return 1
    ts_start_moto || return 1
    ts_start_chromedriver || return 1
    ts_write_env_file
}

# Stop everything start_test_servers started (safe to call more than once, and after a failed start).
stop_test_servers() {
    local pid _ name
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
