"""Prepare (or check) this host for emulated armv7l builds.

What an armv7l build needs on an x86-64 host, and how this module gets it:

- a container engine that answers (Docker, or Podman where installed);
- binfmt_misc mounted, with a qemu-arm handler registered with the F flag
  (the interpreter is opened at registration, so it works inside containers);
- mmdebstrap (with arch-test) and qemu-arm-static, to make Debian armhf root file systems
  (no container registry is needed anywhere);
- for `build_armv7 --cross`, Debian's arm-linux-gnueabihf cross g++;
- enough free disk for root file systems, images and build trees.

Run as root with apt available, missing pieces are installed and started and
every step is printed. Otherwise it stops with the exact commands to run.

    python -m ci.factory.host            # check and fix
    python -m ci.factory.host --check    # check only, change nothing
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
# Debian's qemu-user-static ships its registration rules for systemd-binfmt here.
BINFMT_D = Path("/usr/lib/binfmt.d")
# The ELF headers each handler claims; the masks ignore the OS/ABI byte and the
# low bit of e_type, as Debian's and QEMU's own entries do.
# qemu-arm: ELF 32-bit little-endian, e_machine = EM_ARM (0x28).
# qemu-aarch64: ELF 64-bit little-endian, e_machine = EM_AARCH64 (0xb7).
QEMU_HANDLERS = {
    "arm": (
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "aarch64": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
}
MIN_FREE_GIB = 8.0
DOCKERD_LOG = Path("/var/log/dockerd.log")


class HostNotReady(RuntimeError):
    """The host cannot run armv7l builds; the message says what to run."""


@dataclass
class HostReport:
    engine: str = ""
    engine_version: str = ""
    qemu_arm: str = ""
    qemu_aarch64: str = ""
    free_gib: float = 0.0
    steps: list[str] = field(default_factory=list)


def say(msg: str) -> None:
    print(f"[armv7-host] {msg}", flush=True)


def run(cmd: list[str], *, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    if not quiet:
        say("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=check, text=True, capture_output=quiet)


def is_root() -> bool:
    return os.geteuid() == 0


def can_fix() -> bool:
    return is_root() and shutil.which("apt-get") is not None


def free_gib(path: Path) -> float:
    path = path if path.exists() else path.parent
    usage = shutil.disk_usage(path)
    return usage.free / 2**30


def check_disk(paths: list[Path], min_gib: float = MIN_FREE_GIB) -> float:
    """Fail up front, before an hour of emulated compiling, if disk is short."""
    worst = min(free_gib(p) for p in paths)
    if worst < min_gib:
        where = ", ".join(f"{p} ({free_gib(p):.1f} GiB free)" for p in paths)
        raise HostNotReady(
            f"not enough free disk: need {min_gib:.0f} GiB for root file systems, images and "
            f"build trees, have {where}.\n"
            "  Free some space, e.g.: docker system prune -f; rm -rf ~/.cache/pionnx-armv7-ccache"
        )
    return worst


_apt_updated = False


def apt_install(packages: list[str], report: HostReport) -> None:
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        say("$ apt-get update")
        subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
        _apt_updated = True
    say("$ apt-get install -y " + " ".join(packages))
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    report.steps.append("installed " + " ".join(packages))


# The host's cross assemblers and linkers, which `nox -s build_cross`'s gcc 10 (from
# Debian bullseye, ci/factory/cross_toolchain.py) runs with (tool -> Debian package).
CROSS_TOOLS = {
    "arm-linux-gnueabihf-ld": "binutils-arm-linux-gnueabihf",
    "aarch64-linux-gnu-ld": "binutils-aarch64-linux-gnu",
}


def ensure_tools(report: HostReport, fix: bool, cross: bool = False) -> None:
    # arch-test is only a Recommends of mmdebstrap (so --no-install-recommends
    # skips it), but mmdebstrap refuses any foreign --arch without it.
    needed = {"mmdebstrap": "mmdebstrap", "arch-test": "arch-test", "qemu-arm-static": "qemu-user-static"}
    if cross:
        needed.update(CROSS_TOOLS)
    missing = [pkg for tool, pkg in needed.items() if shutil.which(tool) is None]
    if not missing:
        return
    if fix and can_fix():
        apt_install(sorted(set(missing)), report)
        return
    raise HostNotReady(
        "missing tools: " + ", ".join(missing) + "\n  run as root: apt-get install -y " + " ".join(missing)
    )


def engine_answers(engine: str) -> str:
    """The server version if the engine's daemon answers, else ''."""
    if shutil.which(engine) is None:
        return ""
    fmt = "{{.Server.Version}}" if engine == "docker" else "{{.Version.Version}}"
    try:
        out = subprocess.run(
            [engine, "version", "--format", fmt],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def start_dockerd(report: HostReport) -> None:
    """Start dockerd in the background (no systemd in containers and CI sandboxes)."""
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        run(["systemctl", "start", "docker"], check=False)
    else:
        say(f"$ dockerd >{DOCKERD_LOG} 2>&1 &")
        with open(DOCKERD_LOG, "ab") as log:
            subprocess.Popen(
                # Detached from the caller's terminal and pipes: a CI runner waiting for its
                # output to close must not wait for the engine, which outlives this run.
                ["dockerd"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    for _ in range(60):
        if engine_answers("docker"):
            report.steps.append("started dockerd")
            return
        time.sleep(1)
    raise HostNotReady(f"dockerd did not come up within 60 s; see {DOCKERD_LOG}")


def ensure_engine(report: HostReport, fix: bool, preferred: str = "docker") -> None:
    order = [preferred] + [e for e in ("docker", "podman") if e != preferred]
    for engine in order:
        version = engine_answers(engine)
        if version:
            report.engine, report.engine_version = engine, version
            return
    if not fix or not can_fix():
        who = "" if is_root() else " (as root)"
        raise HostNotReady(
            "no container engine answers: neither `docker version` nor `podman version` works.\n"
            f"  run{who}: apt-get install -y docker.io && (dockerd >{DOCKERD_LOG} 2>&1 &)\n"
            "  or, without root: add your user to the docker group, or install rootless podman, and re-run."
        )
    if shutil.which("dockerd") is None:
        apt_install(["docker.io"], report)
    start_dockerd(report)
    report.engine, report.engine_version = "docker", engine_answers("docker")


def binfmt_mounted() -> bool:
    return (BINFMT_DIR / "register").exists()


def qemu_arm_entry(name: str = "arm") -> dict[str, str]:
    path = BINFMT_DIR / f"qemu-{name}"
    if not path.exists():
        return {}
    entry: dict[str, str] = {}
    for line in path.read_text().splitlines():
        # Lines look like "enabled", "interpreter /usr/...", "flags: PF".
        key, _, value = line.partition(" ")
        entry[key.rstrip(":")] = value.strip() if key != "enabled" else "yes"
    return entry


def qemu_arm_rule(binfmt_d_conf: Path | None = None, name: str = "arm") -> str:
    """The line to write to binfmt_misc/register for qemu-<name>; '' without qemu.

    Debian's own rule (systemd's binfmt.d file, shipped by qemu-user-static)
    where present: its interpreter, arm-binfmt-P, expects the P flag that rule
    carries. Otherwise qemu-arm-static itself, with F only.
    """
    binfmt_d_conf = binfmt_d_conf or BINFMT_D / f"qemu-{name}.conf"
    if binfmt_d_conf.is_file():
        for line in binfmt_d_conf.read_text().splitlines():
            line = line.strip()
            if line.startswith(f":qemu-{name}:"):
                return line if "F" in line.rsplit(":", 1)[1] else line + "F"
    static = f"/usr/bin/qemu-{name}-static"
    interp = static if Path(static).exists() else shutil.which(f"qemu-{name}-static")
    if not interp:
        return ""
    magic, mask = QEMU_HANDLERS[name]
    return f":qemu-{name}:M::{magic}:{mask}:{interp}:F"


def entry_problem(entry: dict[str, str]) -> str:
    """What is wrong with a registered qemu-arm handler for containers; '' if nothing."""
    flags = entry.get("flags", "")
    if "F" not in flags:
        return (
            "it is registered without the F (fix-binary) flag, so the interpreter is looked up "
            "inside each container, where it does not exist"
        )
    if entry.get("interpreter", "").endswith("-binfmt-P") and "P" not in flags:
        return (
            "its interpreter (a -binfmt-P wrapper) expects the P (preserve-argv0) flag, which is "
            "missing: every armv7 program would get its arguments shifted"
        )
    return ""


def ensure_binfmt(report: HostReport, fix: bool, name: str = "arm") -> None:
    """A usable qemu-<name> handler (arm: armv7l containers; aarch64: arm64 ones)."""
    entry_path = BINFMT_DIR / f"qemu-{name}"
    if not binfmt_mounted():
        if not (fix and is_root()):
            raise HostNotReady(
                "binfmt_misc is not mounted.\n  run as root: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
            )
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)])
        report.steps.append("mounted binfmt_misc")

    entry = qemu_arm_entry(name)
    problem = entry_problem(entry) if entry else ""
    if problem:
        if not (fix and is_root()):
            raise HostNotReady(
                f"the qemu-{name} handler in binfmt_misc is unusable: {problem} ({entry}).\n"
                f"  run as root: echo -1 > {entry_path} && "
                f"apt-get install -y qemu-user-static binfmt-support && update-binfmts --enable qemu-{name}"
            )
        say(f"qemu-{name} handler unusable ({problem}): re-registering")
        entry_path.write_text("-1")
        entry = {}

    if not entry:
        if not (fix and is_root()):
            raise HostNotReady(
                f"no qemu-{name} handler in binfmt_misc.\n"
                "  run as root: apt-get install -y qemu-user-static binfmt-support && "
                f"update-binfmts --enable qemu-{name}"
            )
        if shutil.which("update-binfmts"):
            run(["update-binfmts", "--enable", f"qemu-{name}"], check=False)
            if entry_problem(qemu_arm_entry(name)):
                entry_path.write_text("-1")
        if not qemu_arm_entry(name):
            rule = qemu_arm_rule(name=name)
            if not rule:
                raise HostNotReady(f"qemu-{name}-static not found: apt-get install -y qemu-user-static")
            say(f"$ echo '{rule}' > {BINFMT_DIR}/register")
            (BINFMT_DIR / "register").write_text(rule)
        report.steps.append(f"registered qemu-{name} in binfmt_misc")
        entry = qemu_arm_entry(name)
        problem = entry_problem(entry)
        if problem:
            raise HostNotReady(f"qemu-{name} was registered but is unusable: {problem} ({entry})")

    if "enabled" not in entry:
        raise HostNotReady(f"qemu-{name} handler present but disabled: {entry}")
    setattr(
        report,
        "qemu_arm" if name == "arm" else "qemu_aarch64",
        f"{entry.get('interpreter', '?')} (flags {entry.get('flags', '?')})",
    )


def smoke_test_arm(engine: str, image: str, platform: str = "linux/arm/v7") -> None:
    """One ARM process in a container: proves binfmt + engine work together."""
    machines = {"linux/arm/v7": {"armv7l", "armv8l"}, "linux/arm64": {"aarch64"}}[platform]
    out = subprocess.run(
        [engine, "run", "--rm", f"--platform={platform}", "--pull=missing", image, "uname", "-m"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or out.stdout.strip() not in machines:
        raise HostNotReady(
            f"a {platform} container did not run (uname -m -> {out.stdout.strip()!r}, "
            f"exit {out.returncode}): {out.stderr.strip()[-400:]}\n"
            "  check: cat /proc/sys/fs/binfmt_misc/qemu-arm and qemu-aarch64 (must be enabled, flags F)"
        )


def prepare_host(
    *,
    fix: bool = True,
    disk_paths: list[Path] | None = None,
    need_local_tools: bool = True,
    engine: str = "docker",
    cross: bool = False,
    handlers: tuple[str, ...] = ("arm",),
) -> HostReport:
    """Everything an ARM wheel build needs on this host: the engine, qemu-user for each of
    `handlers` (arm, aarch64), mmdebstrap; `cross`: also the host binutils the cross
    compilers of `nox -s build_cross` assemble and link with."""
    report = HostReport()
    report.free_gib = check_disk(disk_paths or [Path.cwd(), Path("/var/lib")])
    if need_local_tools:
        ensure_tools(report, fix, cross)
    for name in handlers:
        ensure_binfmt(report, fix, name)
    ensure_engine(report, fix, engine)
    say(
        f"ready: engine {report.engine} {report.engine_version}; qemu-arm {report.qemu_arm or '-'}; "
        f"qemu-aarch64 {report.qemu_aarch64 or '-'}; "
        f"{report.free_gib:.0f} GiB free"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check only, change nothing")
    parser.add_argument("--engine", default=os.environ.get("PIONNX_ARMV7_ENGINE", "docker"))
    parser.add_argument("--cross", action="store_true", help="also the cross binutils (nox -s build_cross)")
    args = parser.parse_args(argv)
    try:
        prepare_host(fix=not args.check, engine=args.engine, cross=args.cross)
    except HostNotReady as err:
        print(f"[armv7-host] NOT READY: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"[armv7-host] a preparation step failed: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
