#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called indirectly (start_service, trap)
# Every check of the project, against a throwaway Redis and a throwaway PostgreSQL 15.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k receiver -x
#   SKIP_LINT=1 scripts/test.sh          skip ruff and mypy for a quick run
#   SKIP_FRONTEND=1 scripts/test.sh      skip the frontend's unit and browser tests
#   PYTEST_STEP_TIMEOUT=600 scripts/test.sh   stop a hung pytest after 600 s (default 2400, 0: never)
#
# Steps, in order: ruff check, ruff format --check, mypy backend, pytest, and the frontend's
# `npm run test:unit` / `npm run test:e2e` when frontend/package.json has them. Every step
# runs even when an earlier one failed; the summary at the end says which passed and how
# long each took, and the exit code is 1 when any failed. The servers are stopped and their
# files removed on every exit, Ctrl-C included. Usually run through `make test`, which
# installs what this needs first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [[ ! -x $REPO/.venv/bin/python ]]; then
    echo "No virtualenv in .venv: run \`make test\` (or \`make setup\` first)." >&2
    exit 1
fi
export PATH="$REPO/.venv/bin:$PATH"
PYTHON=$REPO/.venv/bin/python

SCRIPT_START=$(now)
SUMMARY=()
FAILED=0
REDIS_PID=""
REDIS_DIR=""
PG_DIR=""
PG_BIN=""
AS_PG=()

elapsed_since() {
    awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'
}

add_summary() { # status name seconds [note]
    SUMMARY+=("$(printf '%-8s %-26s %7ss  %s' "$1" "$2" "$3" "${4:-}")")
}

print_summary() {
    echo
    echo "==> summary"
    local line
    for line in "${SUMMARY[@]}"; do
        echo "    $line"
    done
    echo "    total $(elapsed_since "$SCRIPT_START")s"
}

# Run one check: its exit code is recorded, never fatal, so the next check still runs.
run_step() { # name command...
    local name=$1 start rc=0 note=""
    shift
    echo
    echo "==> $name"
    start=$(now)
    "$@" || rc=$?
    if [[ $rc -eq 0 ]]; then
        add_summary passed "$name" "$(elapsed_since "$start")"
    else
        FAILED=1
        note="exit $rc"
        [[ $name == pytest && $rc -eq 5 ]] && note="exit 5: no tests collected"
        [[ $name == pytest && ($rc -eq 124 || $rc -eq 137) ]] && note="timed out after ${PYTEST_STEP_TIMEOUT}s"
        add_summary FAILED "$name" "$(elapsed_since "$start")" "$note"
    fi
}

# Start one server: a failure here stops the script (the trap cleans up).
start_service() { # name function
    local name=$1 start
    echo
    echo "==> starting $name"
    start=$(now)
    if ! "$2"; then
        add_summary FAILED "start $name" "$(elapsed_since "$start")"
        print_summary
        exit 1
    fi
    add_summary started "$name" "$(elapsed_since "$start")"
}

# Run a command as the PostgreSQL owner: the `postgres` user when we are root (the server
# refuses to run as root), ourselves otherwise. From the data folder, which that user can read.
as_pg() {
    (cd "$PG_DIR" && ${AS_PG[@]+"${AS_PG[@]}"} "$@")
}

start_redis() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        echo "redis-server / redis-cli not found: run \`make test\`, which installs them" >&2
        return 1
    fi
    REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aristobot-test-redis.XXXXXX") || return 1
    REDIS_PORT=$(free_port) || return 1
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" --appendonly no \
        --daemonize no --logfile "$REDIS_DIR/redis.log" &
    REDIS_PID=$!
    local _
    for _ in $(seq 100); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; then
            echo "redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT (no persistence)"
            return 0
        fi
        if ! kill -0 "$REDIS_PID" 2>/dev/null; then
            echo "redis-server exited at start:" >&2
            cat "$REDIS_DIR/redis.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "redis-server does not answer on port $REDIS_PORT after 10 s" >&2
    return 1
}

start_postgres() {
    PG_BIN=$(postgres_bin_dir) || {
        echo "PostgreSQL server programs (initdb, pg_ctl, postgres) not found:" \
            "run \`make test\`, which installs postgresql-15 as root, or install them" >&2
        return 1
    }
    # /tmp, not $TMPDIR: the postgres user must be able to reach the folder.
    PG_DIR=$(mktemp -d /tmp/aristobot-test-pg.XXXXXX) || return 1
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || {
            echo "PostgreSQL refuses to run as root and there is no \`postgres\` user to run it as" >&2
            return 1
        }
        chown postgres: "$PG_DIR" || return 1
        AS_PG=(runuser -u postgres --)
    fi
    PG_PORT=$(free_port) || return 1
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
        --no-sync >"$PG_DIR/initdb.log" 2>&1; then
        echo "initdb failed:" >&2
        cat "$PG_DIR/initdb.log" >&2
        return 1
    fi
    # Throwaway cluster: loopback only, trust auth, no durability (fsync off) for speed.
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
        echo "PostgreSQL did not start:" >&2
        cat "$PG_DIR/postgres.log" >&2
        return 1
    fi
    if ! as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres aristobot; then
        echo "could not create the database aristobot" >&2
        return 1
    fi
    echo "PostgreSQL $(as_pg "$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT, data in $PG_DIR"
}

# Stop what the checks started and left running (a test that died before stopping its
# subprocess): every process whose environment carries this run's TEST_REDIS_URL.
stop_leftovers() {
    [[ -n ${REDIS_PORT:-} && -d /proc/self ]] || return 0
    local marker="TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0" pids=() file pid _
    unset TEST_REDIS_URL REDIS_URL DATABASE_URL TEST_DATABASE_URL # keep grep itself out of the match
    while read -r file; do
        pid=${file#/proc/}
        pid=${pid%/environ}
        [[ $pid != "$$" ]] && pids+=("$pid")
    done < <(grep -lzxF "$marker" /proc/[0-9]*/environ 2>/dev/null)
    [[ ${#pids[@]} -gt 0 ]] || return 0
    echo "==> stopping ${#pids[@]} process(es) the checks left running:" >&2
    ps -o pid=,args= -p "$(IFS=,; echo "${pids[*]}")" >&2
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "${pids[@]}" 2>/dev/null || break # true while any of them lives
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
}

cleanup() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM # a second Ctrl-C must not leave the servers running
    set +e
    stop_leftovers
    if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill -TERM "$REDIS_PID" 2>/dev/null
        local _
        for _ in $(seq 100); do
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    if [[ -n $PG_DIR && -f $PG_DIR/data/postmaster.pid ]]; then
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
            [[ -f $PG_DIR/data/postmaster.pid ]] && kill -KILL "$(head -n 1 "$PG_DIR/data/postmaster.pid")" 2>/dev/null
        fi
    fi
    [[ -n $REDIS_DIR ]] && rm -rf "$REDIS_DIR"
    [[ -n $PG_DIR ]] && rm -rf "$PG_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_service redis start_redis
start_service postgresql start_postgres

export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export REDIS_URL="$TEST_REDIS_URL"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/aristobot"
export TEST_DATABASE_URL="$DATABASE_URL"
echo
echo "==> environment for the checks"
echo "    TEST_REDIS_URL=$TEST_REDIS_URL"
echo "    REDIS_URL=$REDIS_URL"
echo "    DATABASE_URL=$DATABASE_URL"
echo "    TEST_DATABASE_URL=$TEST_DATABASE_URL"

if [[ ${SKIP_LINT:-0} != 0 ]]; then
    add_summary skipped "ruff check" 0.0 "SKIP_LINT"
    add_summary skipped "ruff format --check" 0.0 "SKIP_LINT"
    add_summary skipped "mypy backend" 0.0 "SKIP_LINT"
else
    run_step "ruff check" ruff check .
    run_step "ruff format --check" ruff format --check .
    run_step "mypy backend" mypy backend
fi

# A hung test must not eat CI's whole budget: after PYTEST_STEP_TIMEOUT seconds pytest gets
# SIGINT (it prints where it was stuck), then SIGKILL a minute later. 0 turns the limit off.
PYTEST_STEP_TIMEOUT=${PYTEST_STEP_TIMEOUT:-2400}
pytest_command=(pytest "$@")
if [[ $PYTEST_STEP_TIMEOUT != 0 ]] && command -v timeout >/dev/null; then
    pytest_command=(timeout --foreground --signal=INT --kill-after=60 "$PYTEST_STEP_TIMEOUT" pytest "$@")
fi
run_step pytest "${pytest_command[@]}"

if [[ ${SKIP_FRONTEND:-0} != 0 ]]; then
    add_summary skipped "frontend tests" 0.0 "SKIP_FRONTEND"
elif [[ -f frontend/package.json ]]; then
    for script in test:unit test:e2e; do
        if (cd frontend && node -e 'process.exit(require("./package.json").scripts?.[process.argv[1]] ? 0 : 1)' "$script"); then
            run_step "npm run $script" npm --prefix frontend run "$script"
        else
            add_summary skipped "npm run $script" 0.0 "no such script in frontend/package.json"
        fi
    done
fi

print_summary
exit "$FAILED"
