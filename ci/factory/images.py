"""The armv7l build images: Debian armhf root file systems made by mmdebstrap,
imported into the container engine with the recipes in docker/armv7/.

One image per Raspberry Pi OS generation, each with Debian's own python3:

    bullseye  Python 3.9   glibc 2.31   -> cp39  manylinux_2_31_armv7l
    bookworm  Python 3.11  glibc 2.36   -> cp311
    trixie    Python 3.13  glibc 2.41   -> cp313 (and the cp312-abi3 wheel)

Images are tagged by a hash of everything that goes into them (suite, package
list, Dockerfile, setup script, CA bundle), so a second run reuses them, and a
changed recipe gets a new tag. No container registry is used.

    python -m ci.factory.images bookworm trixie      # build (or reuse) images
    python -m ci.factory.images --list
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docker" / "armv7"
MIRROR = os.environ.get("PIONNX_DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
OFFICIAL_IMAGE = "quay.io/pypa/manylinux_2_31_armv7l"


def cache_dir() -> Path:
    base = os.environ.get("PIONNX_ARMV7_CACHE") or (Path.home() / ".cache" / "pionnx-armv7")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Distro:
    suite: str
    python: str  # Debian's python3 in that suite
    glibc: str

    @property
    def cp(self) -> str:
        return "cp" + self.python.replace(".", "")


DISTROS: dict[str, Distro] = {
    "bullseye": Distro("bullseye", "3.9", "2.31"),
    "bookworm": Distro("bookworm", "3.11", "2.36"),
    "trixie": Distro("trixie", "3.13", "2.41"),
}


class ImageBuildError(RuntimeError):
    pass


# Debian architecture -> the container platform its images report. armhf is the
# factory's own; arm64 run images test the aarch64 wheels of `nox -s build_cross`.
PLATFORMS = {"armhf": "linux/arm/v7", "arm64": "linux/arm64"}


def say(msg: str) -> None:
    print(f"[armv7-images] {msg}", flush=True)


def run_command(engine: str, platform: str) -> list[str]:
    """The start of a command that runs a clean container of one of these images at low
    priority: removed afterwards, never pulled (the images are made here), in /tmp."""
    return ["nice", "-n", "10", engine, "run", "--rm", f"--platform={platform}", "--pull=never", "--workdir=/tmp"]


def read_packages(kind: str) -> list[str]:
    text = (RECIPES / f"packages-{kind}.txt").read_text()
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def recipe_files(kind: str) -> list[Path]:
    files = [RECIPES / f"packages-{kind}.txt", RECIPES / f"Dockerfile.{kind}"]
    if kind == "build":
        files.append(RECIPES / "setup-build-image.sh")
    return files


def recipe_hash(distro: Distro, kind: str) -> str:
    h = hashlib.sha256()
    h.update(f"{distro.suite}\n{kind}\n{MIRROR}\n".encode())
    for path in recipe_files(kind):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(HOST_CA_BUNDLE.read_bytes())
    return h.hexdigest()[:12]


def image_tag(distro: Distro, kind: str, arch: str = "armhf") -> str:
    # armhf keeps its historical tags; other architectures carry theirs in the tag.
    suite = distro.suite if arch == "armhf" else f"{distro.suite}-{arch}"
    return f"pionnx-armv7-{kind}:{suite}-{recipe_hash(distro, kind)}"


def image_exists(engine: str, tag: str) -> bool:
    return subprocess.run([engine, "image", "inspect", tag], capture_output=True, check=False).returncode == 0


def image_platform(engine: str, tag: str) -> str:
    out = subprocess.run(
        [engine, "image", "inspect", tag, "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def release_entry(release_text: str, name: str) -> tuple[str, int] | None:
    """(sha256, size) that a Debian (In)Release file lists for `name`, e.g. main/binary-armhf/Packages.xz."""
    in_sha256 = False
    for line in release_text.splitlines():
        if not line.startswith(" "):
            in_sha256 = line.strip() == "SHA256:"
            continue
        fields = line.split()
        if in_sha256 and len(fields) == 3 and fields[2] == name:
            return fields[0], int(fields[1])
    return None


def release_field(release_text: str, key: str) -> str:
    for line in release_text.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def index_problem(suite: str, arch: str = "armhf", mirror: str = MIRROR, timeout: float = 30) -> str:
    """Why the mirror's main/binary-<arch> index disagrees with its Release file; '' if it agrees.

    A mirror caught mid-sync (or left stale) serves a Packages.xz whose size is
    not the one its signed Release file declares; apt (and so mmdebstrap)
    refuses it with "File has unexpected size". Asking first costs two small
    requests and names the cause, instead of three mmdebstrap attempts that
    fail the same way. '' also when the mirror cannot be asked (mmdebstrap
    then tries and reports for itself).
    """
    if not mirror.startswith(("http://", "https://")):
        return ""
    base = f"{mirror.rstrip('/')}/dists/{suite}"
    name = f"main/binary-{arch}/Packages.xz"
    try:
        with urllib.request.urlopen(f"{base}/InRelease", timeout=timeout) as response:
            release = response.read().decode("utf-8", "replace")
        entry = release_entry(release, name)
        if entry is None:
            return ""
        head = urllib.request.Request(f"{base}/{name}", method="HEAD")
        with urllib.request.urlopen(head, timeout=timeout) as response:
            served = int(response.headers.get("Content-Length", "-1"))
    except (OSError, ValueError, urllib.error.URLError):
        return ""
    if served < 0 or served == entry[1]:
        return ""
    return (
        f"Debian's {suite} {arch} index is out of step with its Release file on {mirror}: "
        f"{name} is {served} bytes, the Release file of {release_field(release, 'Date') or '?'} "
        f"declares {entry[1]} (a mirror mid-sync, or left stale). Retry later, or point "
        f"PIONNX_DEBIAN_MIRROR at another Debian mirror"
    )


MIRROR_SYNC_MARKERS = ("unexpected size", "Mirror sync in progress", "Hash Sum mismatch")
# What a network or mirror hiccup looks like in apt's output; anything else is not retried.
TRANSIENT_MARKERS = MIRROR_SYNC_MARKERS + (
    "Failed to fetch",
    "Temporary failure",
    "Could not resolve",
    "Connection",
    "timed out",
    "Undetermined Error",
    "Unable to fetch",
    "Some index files failed to download",
)


def is_transient(mmdebstrap_output: str) -> bool:
    return any(marker in mmdebstrap_output for marker in TRANSIENT_MARKERS)


def make_rootfs(distro: Distro, kind: str, attempts: int = 3, arch: str = "armhf") -> Path:
    """A Debian armhf (or `arch`) root file system as a tar, cached by recipe hash."""
    packages = read_packages(kind)
    key = hashlib.sha256(f"{distro.suite}\n{MIRROR}\n{packages}".encode()).hexdigest()[:12]
    suite = distro.suite if arch == "armhf" else f"{distro.suite}-{arch}"
    tar = cache_dir() / "rootfs" / f"{suite}-{kind}-{key}.tar"
    if tar.exists() and tar.stat().st_size > 0:
        say(f"rootfs {tar.name}: cached")
        return tar
    tar.parent.mkdir(parents=True, exist_ok=True)
    partial = tar.with_suffix(".tar.partial")
    # apt lists and .debs are dead weight in an image.
    mmdebstrap(
        distro,
        kind,
        packages,
        partial,
        [
            "--variant=apt",
            "--format=tar",
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/archives/*.deb',
        ],
        attempts,
        cleanup=lambda: partial.unlink(missing_ok=True),
        arch=arch,
    )
    partial.rename(tar)
    say(f"rootfs {tar.name}: {tar.stat().st_size / 2**20:.0f} MiB")
    return tar


def mmdebstrap(
    distro: Distro,
    kind: str,
    packages: list[str],
    target: Path,
    options: list[str],
    attempts: int,
    cleanup,
    arch: str = "armhf",
) -> None:
    """Run mmdebstrap for a tree of `arch` (armhf, or a comma-separated list whose first is
    the tree's native one), retrying only mirror and network errors."""
    for one in arch.split(","):
        problem = index_problem(distro.suite, one)
        if problem:
            raise ImageBuildError(problem)
    cmd = [
        "nice",
        "-n",
        "10",
        "mmdebstrap",
        f"--architectures={arch}",
        *options,
        '--aptopt=Acquire::Retries "3"',
        "--include=" + ",".join(packages),
        distro.suite,
        str(target),
        MIRROR,
    ]
    last = hint = ""
    for attempt in range(1, attempts + 1):
        say(f"{kind} {distro.suite} ({arch}, {len(packages)} packages), attempt {attempt}: " + " ".join(cmd[3:]))
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            say(f"{kind} {distro.suite}: made in {time.monotonic() - t0:.0f} s")
            return
        last = (proc.stderr or proc.stdout).strip()
        cleanup()
        if any(marker in last for marker in MIRROR_SYNC_MARKERS):
            hint = " (the Debian mirror is mid-sync for this suite)"
        say(f"mmdebstrap failed{hint}; last lines:\n" + "\n".join(last.splitlines()[-6:]))
        if not is_transient(last):
            # A missing host tool or a bad package name fails the same way every time.
            break
        if attempt < attempts:
            time.sleep(30 * attempt)
    raise ImageBuildError(
        f"mmdebstrap could not make the {distro.suite} {arch} {kind} tree{hint} after {attempt} "
        f"attempt(s); last error:\n" + "\n".join(last.splitlines()[-6:])
    )


@contextlib.contextmanager
def image_lock(tag: str):
    """Held while one process makes `tag`'s tree and image: a second one (`.ci/run` starts the
    armv7l run image in the background, and the cross factory asks for it later) waits here and
    then finds it made, instead of running mmdebstrap into the same partial file."""
    path = cache_dir() / "locks" / (tag.replace("/", "_").replace(":", "_") + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            say(f"image {tag}: being made by {holder}; waiting for it")
            t0 = time.monotonic()
            fcntl.flock(f, fcntl.LOCK_EX)
            say(f"image {tag}: waited {time.monotonic() - t0:.0f} s")
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_image(distro: Distro, kind: str = "build", engine: str = "docker", arch: str = "armhf") -> str:
    """Build the image unless one with this recipe hash already exists; return its tag. One
    process at a time per tag (image_lock)."""
    tag = image_tag(distro, kind, arch)
    with image_lock(tag):
        return _ensure_image(distro, kind, engine, arch, tag)


def _ensure_image(distro: Distro, kind: str, engine: str, arch: str, tag: str) -> str:
    platform_wanted = PLATFORMS[arch]
    if image_exists(engine, tag):
        say(f"image {tag}: cached")
        return tag
    rootfs = make_rootfs(distro, kind, arch=arch)
    with tempfile.TemporaryDirectory(prefix="pionnx-armv7-ctx-", dir=cache_dir()) as ctx_str:
        ctx = Path(ctx_str)
        try:
            os.link(rootfs, ctx / "rootfs.tar")
        except OSError:
            shutil.copy2(rootfs, ctx / "rootfs.tar")
        shutil.copy2(HOST_CA_BUNDLE, ctx / "ca-certificates.crt")
        for path in recipe_files(kind):
            shutil.copy2(path, ctx / path.name)
        cmd = [
            "nice",
            "-n",
            "10",
            engine,
            "build",
            f"--platform={platform_wanted}",
            "-f",
            str(ctx / f"Dockerfile.{kind}"),
            "-t",
            tag,
            "--label",
            f"org.pionnx.recipe={recipe_hash(distro, kind)}",
            str(ctx),
        ]
        # The classic builder imports a FROM-scratch tar without a registry
        # round trip; BuildKit's may try to resolve platform metadata.
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        say("$ " + " ".join(cmd[3:]))
        t0 = time.monotonic()
        log_path = cache_dir() / f"image-{distro.suite}-{arch}-{kind}.log"
        with open(log_path, "w") as log:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            tail = "\n".join(log_path.read_text().splitlines()[-15:])
            raise ImageBuildError(f"{engine} build of {tag} failed (log {log_path}):\n{tail}")
    platform = image_platform(engine, tag)
    say(f"image {tag}: built in {time.monotonic() - t0:.0f} s, platform {platform}")
    if platform.rstrip("/") != platform_wanted:
        raise ImageBuildError(
            f"{tag} reports platform {platform!r}, not {platform_wanted}; cibuildwheel would try to pull it"
        )
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build or reuse the armv7l images")
    parser.add_argument("suites", nargs="*", default=list(DISTROS))
    parser.add_argument("--kind", choices=["build", "run", "both"], default="both")
    parser.add_argument("--engine", default=os.environ.get("PIONNX_ARMV7_ENGINE", "docker"))
    parser.add_argument("--list", action="store_true", help="print the tags this recipe gives")
    args = parser.parse_args(argv)
    kinds = ["build", "run"] if args.kind == "both" else [args.kind]
    failed = []
    for suite in args.suites:
        for kind in kinds:
            if args.list:
                print(image_tag(DISTROS[suite], kind))
                continue
            try:
                ensure_image(DISTROS[suite], kind, args.engine)
            except (ImageBuildError, subprocess.CalledProcessError) as err:
                say(f"FAILED {suite}/{kind}: {err}")
                failed.append(f"{suite}/{kind}")
    if failed:
        say("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
