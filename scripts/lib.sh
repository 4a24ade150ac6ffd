# shellcheck shell=bash
# Shell helpers shared by the scripts in this folder (sourced, not run).

# The folder holding PostgreSQL's initdb, pg_ctl and postgres: PATH first, then Debian's
# /usr/lib/postgresql/<version>/bin, newest version first. Fails when there is none.
postgres_bin_dir() {
    local initdb dir
    if initdb=$(command -v initdb) && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -rn); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Seconds since the epoch, with decimals when the shell has them.
now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        echo "${EPOCHREALTIME/,/.}"
    else
        date +%s
    fi
}
