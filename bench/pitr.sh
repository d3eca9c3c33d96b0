# Figure 6 of bench/run (sourced by it): PostgreSQL point-in-time recovery, Devpilot side by side
# with pgBackRest (Debian's package) on one throwaway cluster, both writing to folders on the
# same disk. Base backup time, restore time to a point after a stretch of WAL, RPO under pgbench
# load, and Devpilot's memory. Settings (environment, defaults for the full run / --smoke):
#
#   PITR_SCALE      pgbench scale of the database (50 / 1)
#   PITR_WAL_MB     the stretch of WAL written by pgbench after the base backups (1024 / 16)
#   PITR_MAX_SECS   the stretch ends after this many seconds of load, whatever its size (600 / 6)
#   PITR_RATE       pgbench's rate in transactions per second (empty: as fast as it goes)
#   PITR_RUNS       base backups and restores per side, alternating (3 / 1)

PITR_STANZA=bench
PITR_CLIENTS=4

# as_postgres CMD…: PostgreSQL's tools refuse root; the cluster, pgBackRest's repository and the
# restored clusters belong to the `postgres` OS user, as in the tests.
as_postgres() { runuser -u postgres -- "$@"; }
pg_bin() { echo "$(pg_config --bindir)/$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
src_sql() { psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PITR_PORT" -U postgres -d postgres -c "$1"; }
at_sql() { PGPASSWORD=bench psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }
pgbackrest_() { as_postgres pgbackrest --config="$PITR_DIR/pgbackrest.conf" --stanza="$PITR_STANZA" "$@"; }
# invalid WHY: the figure's runs do not count (a retry, an error, different data); kept in a file as
# it is said in subshells too.
invalid() { local why; why="$(tr '\n' ' ' <<<"$*")"; log "INVALID: $why"; echo "$why" >>"$PITR_DIR/invalid.txt"; }

pitr_settings() {
    if [ $SMOKE = 1 ]; then
        PITR_SCALE=${PITR_SCALE:-1} PITR_WAL_MB=${PITR_WAL_MB:-16} PITR_MAX_SECS=${PITR_MAX_SECS:-6} PITR_RUNS=${PITR_RUNS:-1} PITR_CHUNK=3
    else
        PITR_SCALE=${PITR_SCALE:-50} PITR_WAL_MB=${PITR_WAL_MB:-1024} PITR_MAX_SECS=${PITR_MAX_SECS:-600} PITR_RUNS=${PITR_RUNS:-3} PITR_CHUNK=10
    fi
    PITR_RATE=${PITR_RATE:-}
    PITR_DIR="$WORK/pitr" PITR_REPO="$WORK/pitr/pgbackrest-repo"
}

# The source: initdb with default (16 MiB) WAL segments, archive_mode on, pgBackRest's
# archive_command, Devpilot's replication slot and walsender; pgbench's tables.
pitr_cluster() {
    mkdir -p "$PITR_DIR/pgbackrest-log" "$PITR_REPO" "$PITR_DIR/restore"
    chown -R postgres: "$PITR_DIR"
    PITR_PORT="$(free_port)" PITR_DATA="$PITR_DIR/source"
    as_postgres "$(pg_bin initdb)" -D "$PITR_DATA" -A trust -U postgres --no-instructions >"$PITR_DIR/initdb.log"
    cat >>"$PITR_DATA/postgresql.conf" <<EOF
port = $PITR_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PITR_DIR'
wal_level = replica
archive_mode = on
archive_command = '/bin/true'
max_wal_senders = 10
max_replication_slots = 10
EOF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n' \
        >"$PITR_DATA/pg_hba.conf"
    # Clones listen on loopback with the source's roles and check passwords (md5 in their pg_hba).
    cat >"$PITR_DIR/pgbackrest.conf" <<EOF
[global]
repo1-path=$PITR_REPO
repo1-retention-full=100
compress-type=zst
start-fast=y
log-path=$PITR_DIR/pgbackrest-log
lock-path=$PITR_DIR/pgbackrest-lock
log-level-console=warn
log-level-file=info

[$PITR_STANZA]
pg1-path=$PITR_DATA
pg1-port=$PITR_PORT
pg1-socket-path=$PITR_DIR
EOF
    chown postgres: "$PITR_DIR/pgbackrest.conf"
    as_postgres "$(pg_bin pg_ctl)" -D "$PITR_DATA" -l "$PITR_DIR/source.log" -w start >/dev/null
    src_sql "ALTER ROLE postgres PASSWORD 'bench'"
    log "pgbench -i -s $PITR_SCALE"
    pgbench -h 127.0.0.1 -p "$PITR_PORT" -U postgres -i -s "$PITR_SCALE" -q postgres >"$PITR_DIR/pgbench-init.log" 2>&1
    src_sql "CREATE TABLE bench_marker (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
    # pgbench's load of the tables went to /bin/true; archiving to pgBackRest starts from here.
    src_sql "ALTER SYSTEM SET archive_command = 'pgbackrest --config=$PITR_DIR/pgbackrest.conf --stanza=$PITR_STANZA archive-push %p'"
    src_sql "SELECT pg_reload_conf()" >/dev/null
    log "pitr: pgbackrest stanza-create, check"
    pgbackrest_ stanza-create
    pgbackrest_ check
}

pitr_stop_cluster() {
    local data
    for data in "$PITR_DATA" "$PITR_DIR"/restore/*/ "${PITR_CLONES:-/nonexistent}"/*/data; do
        [ -f "$data/postmaster.pid" ] && as_postgres "$(pg_bin pg_ctl)" -D "$data" -m immediate -w stop >/dev/null 2>&1
    done
    return 0
}

# --- Devpilot through its API --------------------------------------------------------------------

# api METHOD PATH [JSON]: the answer's body; fails unless 2xx.
api() {
    local args=(-sS -X "$1" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}')
    [ -z "${3:-}" ] || args+=(-H 'Content-Type: application/json' --data "$3")
    local out code
    out="$(curl "${args[@]}" "$URL$2")"
    code="${out##*$'\n'}" out="${out%$'\n'*}"
    [[ "$code" == 2* ]] || { log "$1 $2 answered $code: $out"; return 1; }
    printf '%s\n' "$out"
}
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# Devpilot's server with a local destination, the source granted, and the source protected.
pitr_devpilot() {
    # Devpilot keeps its data folder private (it says so in its log when it has to tighten it).
    mkdir -m 700 -p "$WORK/server-pitr"
    # A clone's socket lives in its data folder, and a socket's path is limited to 107 bytes:
    # clones go to a short folder (target/bench/work/… is too deep).
    PITR_CLONES="$(mktemp -d /tmp/devpilot-bench-clones.XXXXXX)"
    export DEVPILOT_CLONE_DIR="$PITR_CLONES"
    start_server pitr "sqlite://$WORK/server-pitr/devpilot.db"
    local ws
    ws="$(bench_workspace_id)"
    post /admin/grants kind=database "workspace_id=$ws" "server=127.0.0.1:$PITR_PORT" >/dev/null
    # The local destination's fields (setup writes them too when the storage servers run).
    [ -f "$WORK/local.json" ] || python3 -c 'import json,sys; json.dump({"path": sys.argv[1]}, open(sys.argv[2], "w"))' "$LOCAL_DIR" "$WORK/local.json"
    PITR_DEST="$(create_destination pitr pitr-local local)"
    TOKEN="$(curl -sf -H 'Content-Type: application/json' \
        --data '{"email": "bench@example.com", "password": "bench password 1"}' "$URL/api/v1/auth/token" | jq_ 'd["access_token"]')"
    local body
    body="$(python3 -c 'import json,sys; print(json.dumps({"name": "bench", "destination_id": sys.argv[2],
        "url": f"postgres://postgres:bench@127.0.0.1:{sys.argv[1]}/postgres?sslmode=disable"}))' "$PITR_PORT" "$PITR_DEST")"
    log "pitr: Devpilot protects the source"
    DB_ID="$(api POST /api/v1/databases "$body" | jq_ 'd["data"]["id"]')"
    local deadline=$((SECONDS + 60)) status=""
    until [ "$status" = ok ]; do
        [ $SECONDS -lt $deadline ] || { log "archiving did not start: $(api GET "/api/v1/databases/$DB_ID")"; return 1; }
        sleep 0.3
        status="$(api GET "/api/v1/databases/$DB_ID" | jq_ 'd["data"]["status"]')"
    done
}

# devpilot_base: one base backup through the API; prints "SECONDS BYTES START_LSN". The seconds
# run from the request to the backup's own `stopped_at` (its upload's end, by this machine's
# clock), as pgBackRest's run to its process's exit: the poll's lag is not the backup's.
devpilot_base() {
    local start id status="running" reply
    start="$(now)"
    id="$(api POST "/api/v1/databases/$DB_ID/backups" '{}' | jq_ 'd["id"]')"
    while [ "$status" = running ]; do
        sleep 0.1
        reply="$(api GET "/api/v1/databases/$DB_ID/backups?per_page=100")"
        status="$(jq_ "[b['status'] for b in d['data'] if b['id'] == '$id'][0]" <<<"$reply")"
    done
    local secs stopped
    stopped="$(jq_ "[b['stopped_at'] for b in d['data'] if b['id'] == '$id'][0]" <<<"$reply")"
    secs="$(elapsed "$start" "$(epoch_of "$stopped")")"
    [ "$status" = succeeded ] || { invalid "Devpilot's base backup $id ended $status: $(jq_ "[b['error'] for b in d['data'] if b['id'] == '$id'][0]" <<<"$reply")"; }
    echo "$secs $(jq_ "[f\"{b['bytes']} {b['start_lsn']}\" for b in d['data'] if b['id'] == '$id'][0]" <<<"$reply")"
}

# pgbackrest_base: one full backup; prints "SECONDS BYTES START_LSN".
pgbackrest_base() {
    local start secs
    start="$(now)"
    pgbackrest_ backup --type=full >>"$PITR_DIR/pgbackrest-console.log" 2>&1 || invalid "pgbackrest backup failed (see $PITR_DIR/pgbackrest-console.log)"
    secs="$(elapsed "$start" "$(now)")"
    echo "$secs $(pgbackrest_ info --output=json | jq_ 'str(d[0]["backup"][-1]["info"]["repository"]["delta"]) + " " + d[0]["backup"][-1]["lsn"]["start"]')"
}

# --- the stretch of WAL under load, with the RPO of both sides measured on it ---------------------

# A marker row committed every second (its time, and the WAL file its commit is in), and both
# archives polled every 0.25 s: Devpilot's recovery window (`latest`) and pgBackRest's archive
# folder. A marker is safe in Devpilot once `latest` ≥ its time, in pgBackRest once its WAL file
# is in the archive. Markers of the last GRACE seconds of load are not counted (the load stops:
# pgBackRest's open segment would then never fill).
pitr_rpo_watch() {
    python3 - "$PITR_PORT" "$URL" "$TOKEN" "$DB_ID" "$PITR_REPO/archive/$PITR_STANZA" "$PITR_DIR/rpo.json" \
        "$PITR_DIR/load-ended" "$1" <<'PY'
import datetime, json, os, subprocess, sys, threading, time, urllib.request
port, url, token, db, archive, out, ended_file, grace = sys.argv[1:]
grace = float(grace)
markers, lock, stop_markers = [], threading.Lock(), threading.Event()

def insert_markers():
    while not stop_markers.is_set():
        begun = time.time()
        r = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port, "-U", "postgres",
            "-d", "postgres", "-c", "INSERT INTO bench_marker DEFAULT VALUES RETURNING extract(epoch FROM at)",
            "-c", "SELECT pg_walfile_name(pg_current_wal_insert_lsn())"], capture_output=True, text=True)
        if r.returncode == 0:
            at, segment = r.stdout.split()
            with lock:
                markers.append({"at": float(at), "segment": segment, "devpilot": None, "pgbackrest": None})
        else:
            print("marker insert failed:", r.stderr, file=sys.stderr)
        time.sleep(max(0.0, 1.0 - (time.time() - begun)))

def latest():
    req = urllib.request.Request(f"{url}/api/v1/databases/{db}/recovery-window", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        value = json.load(r)["latest"]
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0

def archived():
    names = set()
    for root, _, files in os.walk(archive):
        names.update(f[:24] for f in files if len(f) > 24 and not f.endswith(".history"))
    return names

threading.Thread(target=insert_markers, daemon=True).start()
errors, ended_at = 0, None
while True:
    now = time.time()
    if ended_at is None and os.path.exists(ended_file):
        ended_at = now
        stop_markers.set()
    if ended_at is not None and now > ended_at + grace:
        break
    try:
        dp = latest()
    except Exception as e:
        errors += 1; print("recovery-window:", e, file=sys.stderr); dp = 0.0
    segments = archived()
    with lock:
        for m in markers:
            if m["devpilot"] is None and dp >= m["at"]: m["devpilot"] = now - m["at"]
            if m["pgbackrest"] is None and m["segment"] in segments: m["pgbackrest"] = now - m["at"]
    time.sleep(max(0.0, 0.25 - (time.time() - now)))
counted = [m for m in markers if m["at"] <= ended_at - grace]
json.dump({"markers": counted, "all": len(markers), "poll_errors": errors, "grace": grace}, open(out, "w"))
PY
}

# rpo_stats SIDE: "median max unresolved" over the counted markers (max: "> N" when some marker
# was never seen safe).
rpo_stats() {
    python3 - "$PITR_DIR/rpo.json" "$1" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1])); side = sys.argv[2]
seen = [m[side] for m in d["markers"] if m[side] is not None]
missing = [m for m in d["markers"] if m[side] is None]
if not seen: print("— >_%.0f %d" % (d["grace"], len(missing))); sys.exit()
worst = f"{max(seen):.1f}" if not missing else f"> {d['grace']:.0f}"
print(f"{statistics.median(seen):.1f} {worst.replace(' ', '_')} {len(missing)}")
PY
}

# pitr_load: pgbench in chunks until PITR_WAL_MB of WAL or PITR_MAX_SECS; prints "SECONDS BYTES TPS".
pitr_load() {
    local start_lsn start chunk=$PITR_CHUNK bytes=0 secs=0 rate=() txns=0 out
    [ -z "$PITR_RATE" ] || rate=(-R "$PITR_RATE")
    start_lsn="$(src_sql 'SELECT pg_current_wal_lsn()')" start="$(now)"
    while [ "$bytes" -lt $((PITR_WAL_MB * MiB)) ] && [ "${secs%.*}" -lt "$PITR_MAX_SECS" ]; do
        out="$(pgbench -h 127.0.0.1 -p "$PITR_PORT" -U postgres -n -c $PITR_CLIENTS -j 2 -T $chunk "${rate[@]}" postgres 2>&1)" \
            || invalid "pgbench failed: $(tail -n 3 <<<"$out")"
        grep -q 'number of failed transactions: 0 ' <<<"$out" || invalid "pgbench had failed transactions: $(grep failed <<<"$out")"
        txns=$((txns + $(awk '/number of transactions actually processed/ {split($NF, a, "/"); print a[1]}' <<<"$out")))
        bytes="$(src_sql "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn')::bigint")"
        secs="$(elapsed "$start" "$(now)")"
    done
    echo "$secs $bytes $(python3 -c 'import sys; print(f"{int(sys.argv[1])/float(sys.argv[2]):.0f}")' "$txns" "$secs")"
}

# --- restores to the target -------------------------------------------------------------------------

# What a restored cluster holds of pgbench's tables (and the markers), one line.
PITR_ROWS_SQL="SELECT concat_ws(' ', (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_branches),
    (SELECT count(*) FROM pgbench_tellers), (SELECT count(*) FROM pgbench_history),
    (SELECT sum(abalance) FROM pgbench_accounts), (SELECT count(*) FROM bench_marker))"

# pitr_target: the load has stopped; the target is a moment after its last commit, followed by one
# more commit (recovery needs a commit past the target to stop there) whose WAL file is then
# closed. Sets TARGET (UTC), TARGET_LSN and EXPECTED (the source's rows at the target), and waits
# until both archives hold the target.
pitr_target() {
    EXPECTED="$(src_sql "$PITR_ROWS_SQL")"
    sleep 0.5
    TARGET="$(src_sql "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")"
    TARGET_LSN="$(src_sql 'SELECT pg_current_wal_lsn()')"
    sleep 0.5
    src_sql "INSERT INTO bench_marker DEFAULT VALUES"
    local segment
    segment="$(src_sql 'SELECT pg_walfile_name(pg_current_wal_insert_lsn())')"
    src_sql 'SELECT pg_switch_wal()' >/dev/null
    local deadline=$((SECONDS + 120)) latest=""
    until compgen -G "$PITR_REPO/archive/$PITR_STANZA/*/*/$segment-*" >/dev/null; do
        [ $SECONDS -lt $deadline ] || { invalid "pgBackRest did not archive $segment"; break; }
        sleep 0.2
    done
    until [[ "$latest" > "$TARGET" ]]; do
        [ $SECONDS -lt $deadline ] || { invalid "Devpilot's recovery window did not reach the target"; break; }
        sleep 0.2
        latest="$(api GET "/api/v1/databases/$DB_ID/recovery-window" | jq_ 'd["latest"] or ""' | sed 's/+00:00$/Z/')"
    done
}

check_rows() {
    [ "$2" = "$EXPECTED" ] || invalid "$1 restored rows '$2', the source had '$EXPECTED' at the target"
}

# devpilot_restore N: a clone at the target until it runs; prints seconds.
devpilot_restore() {
    local start id status=restoring reply port secs
    start="$(now)"
    id="$(api POST "/api/v1/databases/$DB_ID/pitr-clone" "{\"target_time\": \"$TARGET\", \"new_name\": \"bench clone $1\"}" | jq_ 'd["data"]["id"]')"
    while [ "$status" = restoring ]; do
        sleep 0.1
        reply="$(api GET "/api/v1/databases/$DB_ID/clones?per_page=100")"
        status="$(jq_ "[c['status'] for c in d['data'] if c['id'] == '$id'][0]" <<<"$reply")"
    done
    secs="$(elapsed "$start" "$(now)")"
    if [ "$status" = running ]; then
        port="$(jq_ "[c['connection_url'] for c in d['data'] if c['id'] == '$id'][0]" <<<"$reply" | sed 's/.*:\([0-9]*\)\/.*/\1/')"
        check_rows Devpilot "$(at_sql "$port" "$PITR_ROWS_SQL")"
    else
        invalid "Devpilot's clone ended $status: $(jq_ "[c['error'] for c in d['data'] if c['id'] == '$id'][0]" <<<"$reply")"
    fi
    api DELETE "/api/v1/database-clones/$id" >/dev/null
    echo "$secs"
}

# pgbackrest_restore N: restore --type=time into an empty folder, start, wait until promoted; seconds.
pgbackrest_restore() {
    local dir="$PITR_DIR/restore/$1" port start secs
    port="$(free_port)"
    as_postgres mkdir -m 700 "$dir"
    start="$(now)"
    pgbackrest_ restore --pg1-path="$dir" --type=time "--target=$(sed 's/T/ /; s/Z$/+00/' <<<"$TARGET")" --target-action=promote \
        >>"$PITR_DIR/pgbackrest-console.log" 2>&1 || invalid "pgbackrest restore failed (see $PITR_DIR/pgbackrest-console.log)"
    as_postgres "$(pg_bin pg_ctl)" -D "$dir" -l "$dir.log" -w -t 3600 start \
        -o "-c port=$port -c unix_socket_directories=$PITR_DIR/restore -c archive_mode=off" >/dev/null \
        || invalid "the cluster pgBackRest restored did not start (see $dir.log)"
    until [ "$(at_sql "$port" 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
        kill -0 "$(head -n 1 "$dir/postmaster.pid" 2>/dev/null || echo 0)" 2>/dev/null \
            || { invalid "the cluster pgBackRest restored stopped (see $dir.log)"; break; }
        sleep 0.1
    done
    secs="$(elapsed "$start" "$(now)")"
    check_rows pgBackRest "$(at_sql "$port" "$PITR_ROWS_SQL")"
    as_postgres "$(pg_bin pg_ctl)" -D "$dir" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir" "$dir.log"
    echo "$secs"
}

# --- Devpilot's memory -------------------------------------------------------------------------------

# Samples the server's VmRSS every 0.2 s, each sample tagged with the phase named in
# $PITR_DIR/phase, until the server ends or the sampler is killed.
memory_sampler() {
    while kill -0 "$PID" 2>/dev/null; do
        echo "$(cat "$PITR_DIR/phase") $(vm "$PID" VmRSS)"
        sleep 0.2
    done >>"$PITR_DIR/rss.txt"
}
phase() { echo "$1" >"$PITR_DIR/phase"; }

# memory_peaks IDLE_KB: "PEAK_MiB PHASE" (the phase of the largest sample).
memory_peaks() {
    awk -v hwm="$(vm "$PID" VmHWM)" '$2 > max {max = $2; at = $1} END {if (hwm > max) {max = hwm; at = at "+hwm"} printf "%d %s\n", max / 1024, at}' \
        "$PITR_DIR/rss.txt"
}

# --- the figure ------------------------------------------------------------------------------------

figure_pitr() {
    pitr_settings
    log "pitr: cluster (scale $PITR_SCALE), pgBackRest, Devpilot"
    pitr_cluster
    pitr_devpilot
    phase idle && sleep 2
    echo 5 >"/proc/$PID/clear_refs"
    local idle
    idle="$(vm "$PID" VmRSS)"
    memory_sampler &
    local sampler=$!
    : >"$WORK/dp.txt" && : >"$WORK/ref.txt"
    local i out line dp_bytes dp_start pb_bytes pb_start
    phase backup
    for i in $(seq "$PITR_RUNS"); do
        log "pitr: base backups, run $i"
        sync
        out="$(devpilot_base)" && read -r line dp_bytes dp_start <<<"$out" && echo "$line" >>"$WORK/dp.txt"
        sync
        out="$(pgbackrest_base)" && read -r line pb_bytes pb_start <<<"$out" && echo "$line" >>"$WORK/ref.txt"
    done
    local dp_backup pb_backup
    dp_backup="$(median "$WORK/dp.txt")" pb_backup="$(median "$WORK/ref.txt")"

    phase load
    log "pitr: load until $PITR_WAL_MB MiB of WAL (at most $PITR_MAX_SECS s), RPO watched"
    local grace=15 load_secs wal_bytes tps
    [ $SMOKE = 1 ] && grace=3
    rm -f "$PITR_DIR/load-ended"
    pitr_rpo_watch "$grace" 2>"$PITR_DIR/rpo.log" &
    local watcher=$!
    sleep 1
    out="$(pitr_load)" && read -r load_secs wal_bytes tps <<<"$out"
    touch "$PITR_DIR/load-ended"
    wait "$watcher" || invalid "the RPO watcher failed: $(tail -n 3 "$PITR_DIR/rpo.log")"
    log "pitr: the target, and both archives holding it"
    pitr_target
    local dp_wal pb_wal
    dp_wal="$(src_sql "SELECT pg_wal_lsn_diff('$TARGET_LSN', '$dp_start')::bigint")"
    pb_wal="$(src_sql "SELECT pg_wal_lsn_diff('$TARGET_LSN', '$pb_start')::bigint")"

    phase restore
    : >"$WORK/dp.txt" && : >"$WORK/ref.txt"
    for i in $(seq "$PITR_RUNS"); do
        log "pitr: restores to $TARGET, run $i"
        sync && devpilot_restore "$i" >>"$WORK/dp.txt"
        sync && pgbackrest_restore "$i" >>"$WORK/ref.txt"
    done
    local dp_restore pb_restore
    dp_restore="$(median "$WORK/dp.txt")" pb_restore="$(median "$WORK/ref.txt")"
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    local peak peak_phase above
    read -r peak peak_phase < <(memory_peaks)
    above=$((peak - idle / 1024))
    pitr_check_logs
    pitr_emit
    stop_server
    pitr_stop_cluster
    [ "${DEVPILOT_BENCH_KEEP_WORK:-0}" = 1 ] || rm -rf "$PITR_DIR" "$PITR_CLONES" "$LOCAL_DIR"/* "$WORK/dp.txt" "$WORK/ref.txt"
}

# Errors and retries in the logs make the run INVALID: Devpilot's (a receiver restarted, a fetch
# or an upload that failed), pgBackRest's, and the source's (an archive_command that failed).
pitr_check_logs() {
    local lines
    lines="$(grep -E ' (ERROR|WARN) ' "$WORK/server-pitr.log" | head -n 5 || true)"
    [ -z "$lines" ] || invalid "Devpilot logged: $lines"
    lines="$(cat "$PITR_DIR"/pgbackrest-log/*.log | grep -E ' (ERROR|WARN): ' | head -n 5 || true)"
    [ -z "$lines" ] || invalid "pgBackRest logged: $lines"
    lines="$(grep -E 'archive command failed|FATAL|PANIC' "$PITR_DIR/source.log" | head -n 5 || true)"
    [ -z "$lines" ] || invalid "the source logged: $lines"
}

# verdict_or_invalid VALUE OP TARGET
verdict_or_invalid() { if [ -s "$PITR_DIR/invalid.txt" ]; then echo INVALID; else verdict "$@"; fi; }

pitr_emit() {
    local mib="import sys; print(f'{int(sys.argv[1])/1048576:.0f}')"
    local wal_mib dp_size pb_size dp_rpo pb_rpo
    wal_mib="$(python3 -c "$mib" "$wal_bytes")"
    dp_size="$(python3 -c "$mib" "$dp_bytes")" pb_size="$(python3 -c "$mib" "$pb_bytes")"
    read -r -a dp_rpo < <(rpo_stats devpilot)
    read -r -a pb_rpo < <(rpo_stats pgbackrest)
    local markers
    markers="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["markers"]))' "$PITR_DIR/rpo.json")"
    local br rr
    br="$(ratio "$dp_backup" "$pb_backup")" rr="$(ratio "$dp_restore" "$pb_restore")"
    emit ""
    emit "## 6. PostgreSQL point-in-time recovery vs pgBackRest $(pgbackrest version | cut -d' ' -f2) (pgbench scale $PITR_SCALE, seconds, median of $PITR_RUNS)"
    emit ""
    emit "One throwaway PostgreSQL $(postgres_version) cluster (\`initdb\` defaults: 16 MiB WAL segments, as"
    emit "production clusters have; 1 MiB segments would multiply both tools' per-file costs by 16)."
    emit "Both archive it at once: Devpilot through its replication slot (\`pg_receivewal\`), pgBackRest"
    emit "through \`archive_command\`; their folders are siblings on one disk. A B A B alternation."
    emit ""
    emit "- Devpilot: local destination, zstd level $(grep -o 'ZSTD_LEVEL: i32 = [0-9]*' src/artifacts/compression.rs | grep -o '[0-9]*$'), not encrypted; \`pg_basebackup --checkpoint=fast\` (one compressing thread);"
    emit "  \`.partial\` every ${DEVPILOT_WAL_PARTIAL_SECS:-5} s (\`DEVPILOT_WAL_PARTIAL_SECS\`, the default); a clone fetches WAL through \`devpilot wal-fetch\`."
    emit "- pgBackRest: \`repo1-path\` (posix), \`compress-type=zst\` (level 3, its default), \`start-fast=y\` (as"
    emit "  \`--checkpoint=fast\`), \`process-max=1\` (its default, and Devpilot's one compressing thread),"
    emit "  \`archive_command = 'pgbackrest --stanza=bench archive-push %p'\` (synchronous, its default),"
    emit "  \`archive_timeout = $(src_sql 'SHOW archive_timeout')\` (PostgreSQL's default; pgBackRest sets none)."
    emit "- Base backup: Devpilot \`POST …/backups\` until \`succeeded\`; pgBackRest \`backup --type=full\` (which"
    emit "  also waits until the backup's last WAL file is archived)."
    emit "- The stretch of WAL: the issue asks for a point one hour of WAL after the base backup. One hour is"
    emit "  a volume here: pgbench ($PITR_CLIENTS clients$([ -n "$PITR_RATE" ] && echo ", -R $PITR_RATE")) until $PITR_WAL_MB MiB of WAL ($((PITR_WAL_MB / 16)) segments; one hour of a source"
    emit "  writing $(python3 -c "import sys; print(f'{int(sys.argv[1])/3600:.2f}')" "$PITR_WAL_MB") MiB/s): $wal_mib MiB in 10-second runs, no vacuum between them (\`-n\`), which took $(printf '%.0f' "$load_secs") s at $tps tps. Restore time is set by what is replayed, not by the"
    emit "  hour it took to write; an hour of real time does not fit this benchmark. Each side replays from"
    emit "  its newest base backup (the row below; pgBackRest's backups come second in each pair)."
    emit "- Restore: to \`$TARGET\` (after the stretch). Devpilot \`POST …/pitr-clone\` until the clone is"
    emit "  \`running\`; pgBackRest \`restore --type=time --target-action=promote\` into an empty folder, \`pg_ctl"
    emit "  start\`, until \`pg_is_in_recovery()\` is false. Rows at the target (accounts branches tellers"
    emit "  history sum(abalance) markers): source \`$EXPECTED\`; both restores are checked against it."
    emit "- RPO: a marker row committed every second during the stretch ($markers counted); safe in Devpilot"
    emit "  once \`GET …/recovery-window\` \`latest\` ≥ its commit time, in pgBackRest once its WAL file is in"
    emit "  the archive; both polled every 0.25 s."
    emit "- Memory: Devpilot's VmRSS every 0.2 s (and VmHWM) from /proc over the whole figure, above its"
    emit "  idle RSS with archiving running ($((idle / 1024)) MiB); the peak was during: $peak_phase."
    emit ""
    emit "| Measure | Devpilot | pgBackRest | Ratio | Target | Result |"
    emit "|---|---|---|---|---|---|"
    emit "| Base backup (s) | $dp_backup | $pb_backup | $br | ≤ 1.0× | $(verdict_or_invalid "$br" '<=' 1.0) |"
    emit "| Base backup stored (MiB) | $dp_size | $pb_size | $(ratio "$dp_size" "$pb_size") | — | (info) |"
    emit "| PITR restore, running at the target (s) | $dp_restore | $pb_restore | $rr | ≤ 1.0× | $(verdict_or_invalid "$rr" '<=' 1.0) |"
    emit "| WAL replayed from the newest base backup (MiB) | $(python3 -c "$mib" "$dp_wal") | $(python3 -c "$mib" "$pb_wal") | — | — | (info) |"
    emit "| RPO under load, median (s) | ${dp_rpo[0]} | ${pb_rpo[0]} | — | — | (info) |"
    local dp_max="${dp_rpo[1]//_/ }"
    emit "| RPO under load, worst (s) | $dp_max | ${pb_rpo[1]//_/ } | — | ≤ 10 s | $(if [[ "$dp_max" == '>'* ]]; then echo FAIL; else verdict_or_invalid "$dp_max" '<=' 10; fi) |"
    emit "| Memory above idle (MiB) | $above | — | — | ≤ 64 | $(verdict_or_invalid "$above" '<=' 64) |"
    if [ -s "$PITR_DIR/invalid.txt" ]; then
        emit ""
        emit "**INVALID** (the figures above do not count):"
        while read -r why; do emit "- $why"; done <"$PITR_DIR/invalid.txt"
    fi
}

postgres_version() { "$(pg_bin postgres)" --version | awk '{print $3}'; }
