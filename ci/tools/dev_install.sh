#!/usr/bin/env bash
# Developer build: installs pionnx from this working tree into its own venv
# (/tmp/venv-NAME) with its own CMake build dir, so several people can build
# side by side. ccache makes rebuilds of unchanged files instant.
#   bash ci/tools/dev_install.sh NAME      then   /tmp/venv-NAME/bin/python ...
set -euo pipefail
name="${1:-dev}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="/tmp/venv-$name"
[ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
launcher=""
command -v ccache >/dev/null && launcher="-Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
"$venv/bin/python" -m pip install -q --no-build-isolation --no-deps --force-reinstall \
  -Cbuild-dir="/tmp/build-$name" $launcher "$root"
"$venv/bin/python" -c "import pionnx; print('pionnx', pionnx.__version__, 'installed in $venv')"
