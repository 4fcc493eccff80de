"""The cross toolchain of `nox -s build_cross`: Debian bullseye's gcc 10, run on this host.

Why bullseye's gcc 10 (measured and argued in the README, "Cross-compiled wheels"):
the wheels' glibc floor is manylinux_2_31 (Raspberry Pi OS bullseye, Ubuntu
20.04), and the module links libstdc++ statically, so the floor is whatever
glibc the compiler's own static libstdc++ was built against. bullseye's
cross g++ 10 and its libstdc++.a were built against glibc 2.31; bookworm's
g++ 12 against 2.36, whose libstdc++.a reaches for `__libc_single_threaded`
(GLIBC_2.32).

The toolchain is one folder, unpacked by mmdebstrap's `extract` variant
(download, check the signatures, unpack; no maintainer script runs, nothing
is emulated): the amd64 packages g++-10 (x86_64), g++-10-arm-linux-gnueabihf
and g++-10-aarch64-linux-gnu with their dependencies, which bring glibc
2.31's development files for all three targets (docker/cross/packages-toolchain.txt).
Those are x86-64 programs built for glibc 2.31, so they run on any newer
host; gcc finds its own parts relative to its executable. The folder is the
sysroot of the x86_64 target (--sysroot); the ARM compilers find their
target's glibc under usr/<triple>/ of the same folder. Only the assembler and
linker come from the host (Debian's binutils-<triple>, -B): the folder's own
need shared libraries of binutils 2.35 that a newer host does not have, and
neither tool decides the glibc floor.

The target's Python headers come from Debian's libpython3.X-dev for that
architecture (Python.h and friends are the same everywhere; pyconfig.h is
not): 3.9 from bullseye, 3.11 from bookworm, 3.13 from trixie for the
cp312-abi3 wheel (limited API 3.12). Debian ships no Python 3.10 at all, so
cp310 is built for x86_64 only, against the headers of a host CPython 3.10.

    python -m ci.factory.cross_toolchain            # make (or reuse) the toolchain and every header set
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ci.factory import images as armv7_images
from ci.factory.images import DISTROS, ImageBuildError

ROOT = armv7_images.ROOT
RECIPE = ROOT / "docker" / "cross" / "packages-toolchain.txt"
TOOLCHAIN_SUITE = "bullseye"
GLIBC_FLOOR = (2, 31)
GCC_VERSION = "10"


@dataclass(frozen=True)
class Target:
    arch: str  # the wheel's platform machine: armv7l, aarch64, x86_64
    triple: str  # GNU triple: the compiler's prefix and Debian's multiarch folder
    debian_arch: str  # armhf, arm64, amd64
    toolchain_file: Path
    platform: str  # the container platform that runs it ('' = this host)

    @property
    def native(self) -> bool:
        return self.arch == "x86_64"

    def cxx(self, toolchain: Path) -> Path:
        return toolchain / "usr" / "bin" / f"{self.triple}-g++-{GCC_VERSION}"

    def libdirs(self, toolchain: Path) -> list[Path]:
        """Where the target's glibc lives in the toolchain folder (auditwheel's --ldpaths)."""
        if self.native:
            return [toolchain / "lib" / self.triple, toolchain / "usr" / "lib" / self.triple]
        return [toolchain / "usr" / self.triple / "lib"]


TOOLCHAINS = Path(__file__).resolve().parent / "toolchains"
TARGETS: dict[str, Target] = {
    "armv7l": Target("armv7l", "arm-linux-gnueabihf", "armhf", TOOLCHAINS / "linux-armv7l.cmake", "linux/arm/v7"),
    "aarch64": Target("aarch64", "aarch64-linux-gnu", "arm64", TOOLCHAINS / "linux-aarch64.cmake", "linux/arm64"),
    "x86_64": Target("x86_64", "x86_64-linux-gnu", "amd64", TOOLCHAINS / "linux-x86_64.cmake", ""),
}

# Python the wheel is for -> (Debian suite whose libpython3.X-dev gives the headers, header version).
# "abi3" is the cp312-abi3 wheel: limited API 3.12, compiled against 3.13's headers.
HEADER_SOURCES = {"3.9": ("bullseye", "3.9"), "3.11": ("bookworm", "3.11"), "abi3": ("trixie", "3.13")}
# No Debian suite has Python 3.10: built for x86_64 only, against a host CPython 3.10's headers.
HOST_HEADER_PYTHONS = {"3.10"}


class ToolchainError(RuntimeError):
    """The toolchain or a header set could not be made; the message says why and what to do."""


def say(msg: str) -> None:
    print(f"[cross-toolchain] {msg}", flush=True)


def cache_dir() -> Path:
    path = Path(os.environ.get("PIONNX_CROSS_CACHE") or Path.home() / ".cache" / "pionnx-cross")
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_recipe() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in RECIPE.read_text().splitlines())
    return [line for line in lines if line]


def relativize_symlinks(tree: Path) -> int:
    """Point absolute symlinks inside an unpacked tree at their target inside the tree
    (e.g. lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-2.31.so), as a sysroot
    needs: the linker resolves them on the host's file system otherwise."""
    changed = 0
    for folder, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                target = os.readlink(path)
                if target.startswith("/"):
                    path.unlink()
                    path.symlink_to(os.path.relpath(str(tree) + target, folder))
                    changed += 1
    return changed


def unpack(suite: str, packages: list[str], arch: str, dest: Path) -> None:
    """mmdebstrap --variant=extract into `dest` (made whole or not at all)."""
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if not shutil.which("mmdebstrap"):
        raise ToolchainError("mmdebstrap not found: apt-get install -y mmdebstrap arch-test")
    try:
        armv7_images.mmdebstrap(
            DISTROS[suite],
            "cross",
            packages,
            partial,
            ["--variant=extract", "--format=directory"],
            3,
            cleanup=lambda: shutil.rmtree(partial, ignore_errors=True),
            arch=arch,
        )
    except ImageBuildError as err:
        raise ToolchainError(str(err)) from err
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)


def ensure_toolchain() -> Path:
    """The bullseye gcc 10 folder (cached by recipe hash); returns its root."""
    packages = read_recipe()
    key = hashlib.sha256(f"{TOOLCHAIN_SUITE}\n{armv7_images.MIRROR}\n{packages}".encode()).hexdigest()[:12]
    dest = cache_dir() / f"toolchain-{TOOLCHAIN_SUITE}-{key}"
    if (dest / ".complete").exists():
        say(f"toolchain {dest.name}: cached")
        return dest
    unpack(TOOLCHAIN_SUITE, packages, "amd64", dest)
    # The .debs stay in the download cache of a normal bootstrap; not needed here.
    shutil.rmtree(dest / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    say(f"toolchain {dest.name}: {relativize_symlinks(dest)} absolute symlinks made relative")
    for target in TARGETS.values():
        if not target.cxx(dest).exists():
            raise ToolchainError(f"the toolchain has no {target.cxx(dest).name} ({RECIPE} is out of step)")
    # Marked whole only once checked, so a folder missing a compiler is not reused as cached.
    (dest / ".complete").write_text("\n".join(packages) + "\n")
    return dest


def _copy_headers(tree: Path, version: str, triple: str, dest: Path) -> None:
    """usr/include/python3.X plus that architecture's pyconfig.h, as one flat folder."""
    src = tree / "usr" / "include" / f"python{version}"
    arch_config = tree / "usr" / "include" / triple / f"python{version}" / "pyconfig.h"
    if not (src / "Python.h").is_file() or not arch_config.is_file():
        raise ToolchainError(f"libpython{version}-dev unpacked without {src}/Python.h or {arch_config}")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(src, partial, symlinks=False)
    # Debian's usr/include/python3.X/pyconfig.h only dispatches on the compiler's
    # target to <triple>/python3.X/pyconfig.h; the flat folder has the real one.
    (partial / "pyconfig.h").unlink(missing_ok=True)
    shutil.copy2(arch_config, partial / "pyconfig.h")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)


def ensure_headers(python: str, targets: list[Target]) -> dict[str, Path]:
    """{arch: folder holding Python.h} of `python` (3.9, 3.10, 3.11 or abi3) for each target that
    has it; an architecture missing from the answer has no trustworthy headers (3.10 on ARM)."""
    if python in HOST_HEADER_PYTHONS:
        x86 = [t for t in targets if t.native]
        if not x86:
            return {}
        return {"x86_64": host_python_include(python)}
    suite, version = HEADER_SOURCES[python]
    base = cache_dir() / "python-headers" / f"{suite}-python{version}"
    wanted = {t.arch: base / t.arch / f"python{version}" for t in targets}
    missing = [t for t in targets if not (wanted[t.arch] / "Python.h").is_file()]
    if missing:
        tree = base / "unpacked"
        arches = ",".join(t.debian_arch for t in missing)
        packages = [f"libpython{version}-dev:{t.debian_arch}" for t in missing]
        unpack(suite, packages, arches, tree)
        for t in missing:
            _copy_headers(tree, version, t.triple, wanted[t.arch])
        shutil.rmtree(tree, ignore_errors=True)
        say(f"python{version} headers ({suite}): {', '.join(t.arch for t in missing)}")
    return wanted


def host_python_include(version: str) -> Path:
    """The include folder of a host CPython `version` (x86_64 only)."""
    from ci.factory import cross_build  # imported here: cross_build imports this module

    python = cross_build.find_python(version)
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not (Path(out) / "Python.h").is_file():
        raise ToolchainError(f"{python} has no Python.h in {out}")
    return Path(out)


def host_machine() -> str:
    return sysconfig.get_platform().split("-")[-1]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    try:
        tc = ensure_toolchain()
        for python in (*HEADER_SOURCES, *HOST_HEADER_PYTHONS):
            for arch, path in ensure_headers(python, list(TARGETS.values())).items():
                say(f"{python} {arch}: {path}")
    except ToolchainError as err:
        say(f"FAILED: {err}")
        return 1
    say(f"toolchain: {tc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
