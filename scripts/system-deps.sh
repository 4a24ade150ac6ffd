#!/usr/bin/env bash
# Make sure the system programs Aristobot needs are installed: `system-deps.sh redis postgres node chromium`.
#
# Missing programs are installed with apt-get when running as root on Debian/Ubuntu (one
# `apt-get update` first); otherwise the script prints what to install and fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

missing_packages=()
missing_text=()
want_npm=""

for dep in "$@"; do
    case "$dep" in
        redis)
            if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
                missing_packages+=(redis-server)
                missing_text+=("redis-server and redis-cli (Debian/Ubuntu: redis-server; macOS: brew install redis)")
            fi
            ;;
        postgres)
            if ! postgres_bin_dir >/dev/null; then
                missing_packages+=(postgresql-15)
                missing_text+=("PostgreSQL 15 server programs initdb, pg_ctl, postgres (Debian/Ubuntu: postgresql-15; macOS: brew install postgresql@15)")
            fi
            ;;
        node)
            if ! command -v npm >/dev/null; then
                # NodeSource's nodejs package brings npm; Debian's needs the npm package too.
                command -v node >/dev/null || missing_packages+=(nodejs)
                want_npm=1
                missing_text+=("Node.js 18+ and npm (Debian/Ubuntu: nodejs npm)")
            fi
            ;;
        chromium)
            # The browser tests drive Debian's Chromium: Playwright's own download is not reachable.
            if ! command -v "${CHROMIUM_PATH:-chromium}" >/dev/null; then
                missing_packages+=(chromium)
                missing_text+=("Chromium for the browser tests (Debian: chromium; elsewhere set CHROMIUM_PATH)")
            fi
            ;;
        *)
            echo "system-deps.sh: unknown dependency '$dep' (known: redis postgres node chromium)" >&2
            exit 2
            ;;
    esac
done

[[ ${#missing_packages[@]} -eq 0 && -z $want_npm ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    if [[ ${#missing_packages[@]} -gt 0 ]]; then
        echo "==> installing ${missing_packages[*]} with apt-get"
        apt-get install -y -q --no-install-recommends "${missing_packages[@]}"
    fi
    if [[ -n $want_npm ]] && ! command -v npm >/dev/null; then
        echo "==> installing npm with apt-get"
        apt-get install -y -q --no-install-recommends npm
    fi
    exit 0
fi
[[ -n $want_npm ]] && missing_packages+=(npm)

echo "Aristobot needs these programs, which are not installed:" >&2
for text in "${missing_text[@]}"; do
    echo "  - $text" >&2
done
echo "Install them, e.g.: sudo apt-get install ${missing_packages[*]}" >&2
echo "(or run make as root on Debian/Ubuntu, which installs them with apt-get)" >&2
exit 1
