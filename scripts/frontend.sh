#!/usr/bin/env bash
# Install the frontend's packages and build it, when there is a frontend (frontend/package.json).
#
# `npm install` runs only when package.json or the lock file changed (it installs the locked
# versions and leaves the lock file as it is; not `npm ci`, which refuses a lock file without
# the other platforms' optional packages, e.g. rollup's, that some registries do not serve); `npm run build` runs only when a file outside node_modules/ and dist/ is
# newer than the last build. Without frontend/package.json this does nothing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../frontend" 2>/dev/null || exit 0
[[ -f package.json ]] || exit 0

command -v npm >/dev/null || {
    echo "frontend/ needs Node.js and npm: run \`make setup\` as root or install nodejs and npm" >&2
    exit 1
}

has_script() {
    node -e 'process.exit(require("./package.json").scripts?.[process.argv[1]] ? 0 : 1)' "$1"
}

sum=$(cat package.json package-lock.json 2>/dev/null | cksum | tr -d ' ')
install_stamp=node_modules/.aristobot-install-$sum
if [[ ! -f $install_stamp ]]; then
    echo "==> frontend: npm install"
    npm install --no-audit --no-fund
    rm -f node_modules/.aristobot-install-*
    touch "$install_stamp"
fi

build_stamp=node_modules/.aristobot-build
if has_script build; then
    # The browser tests' output (test-results/, playwright-report/) is not a source of the build.
    if [[ ! -f $build_stamp ]] || [[ -n $(find . \( -path ./node_modules -o -path ./dist -o -path ./test-results -o -path ./playwright-report \) -prune -o -type f -newer "$build_stamp" -print -quit) ]]; then
        echo "==> frontend: npm run build"
        npm run build
        touch "$build_stamp"
    fi
fi
