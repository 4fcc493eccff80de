"""The wheel factory's own logic (ci.factory.build_armv7 and friends), without containers.

The emulated build itself runs in `nox -s build_armv7` (and CI's smoke path);
these tests pin the decisions around it: which wheels an image makes, when a
run counts as failed, how a stale Debian mirror and an unready host are named.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from ci.checks import cpu_matrix
from ci.factory import build_armv7, build_cross, cross_build, cross_toolchain, wheel_equivalence
from ci.factory import host as armv7_host
from ci.factory import images as armv7_images

ROOT = Path(__file__).resolve().parents[2]

RELEASE = """Origin: Debian
Suite: stable
Codename: trixie
Date: Sat, 21 Nov 2026 09:15:44 UTC
MD5Sum:
 e2104db7bb6f387c687626a4df62302e  1111 main/binary-armhf/Packages.xz
SHA256:
 1de5d816c3c5fc1e38ef27d37dda3b87ec1be229d3455b80f281696ba394a1e7 53392187 main/binary-armhf/Packages
 d9a47ec60215279a132e7ec4d6cdfabcddd950a9f63b3bc540b61f6b612f7f18  {size} main/binary-armhf/Packages.xz
 0c53fb54016346a8b994d53a2786b402aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa      116 main/binary-armhf/Release
"""


def test_release_entry_reads_the_sha256_section_only():
    text = RELEASE.format(size=42)
    assert armv7_images.release_entry(text, "main/binary-armhf/Packages.xz") == (
        "d9a47ec60215279a132e7ec4d6cdfabcddd950a9f63b3bc540b61f6b612f7f18",
        42,
    )
    assert armv7_images.release_entry(text, "main/binary-arm64/Packages.xz") is None
    assert armv7_images.release_field(text, "Date") == "Sat, 21 Nov 2026 09:15:44 UTC"


@pytest.fixture
def fake_mirror(monkeypatch):
    """A local HTTP "Debian mirror" whose InRelease declares `declared` bytes for Packages.xz."""
    state = {"declared": 10, "served": b"x" * 10}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _body(self):
            if self.path.endswith("/InRelease"):
                return RELEASE.format(size=state["declared"]).encode()
            if self.path.endswith("/main/binary-armhf/Packages.xz"):
                return state["served"]
            return None

        def do_GET(self):  # noqa: N802 (http.server's spelling)
            body = self._body()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def do_HEAD(self):  # noqa: N802
            body = self._body()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/debian", state
    finally:
        server.shutdown()
        server.server_close()


def test_index_problem_names_both_sizes_when_the_mirror_is_out_of_step(fake_mirror):
    mirror, state = fake_mirror
    assert armv7_images.index_problem("trixie", mirror=mirror) == ""
    state["declared"] = 9246996
    state["served"] = b"x" * 9246  # smaller than declared: mid-sync or stale
    problem = armv7_images.index_problem("trixie", mirror=mirror)
    assert "trixie armhf index is out of step" in problem
    assert "9246 bytes" in problem and "declares 9246996" in problem
    assert "Sat, 21 Nov 2026" in problem and "PIONNX_DEBIAN_MIRROR" in problem


def test_index_problem_defers_to_mmdebstrap_when_the_mirror_cannot_be_asked(fake_mirror):
    mirror, _ = fake_mirror
    assert armv7_images.index_problem("no-such-suite-arch", arch="s390x", mirror=mirror) == ""
    assert armv7_images.index_problem("trixie", mirror="http://127.0.0.1:9/debian", timeout=2) == ""
    assert armv7_images.index_problem("trixie", mirror="file:///srv/mirror") == ""


def test_each_image_makes_its_wheels():
    def names(images, abi3=True):
        return [(v.label, v.identifier, v.config_settings) for v in build_armv7.variants_for(images, abi3)]

    assert names(["bullseye"]) == [("bullseye/cp39", "cp39-manylinux_armv7l", "")]
    assert names(["bookworm"]) == [("bookworm/cp311", "cp311-manylinux_armv7l", "")]
    assert names(["trixie"]) == [
        ("trixie/cp313", "cp313-manylinux_armv7l", "wheel.py-api="),
        ("trixie/abi3", "cp313-manylinux_armv7l", "wheel.py-api=cp312"),
    ]
    assert [label for label, _, _ in names(["trixie"], abi3=False)] == ["trixie/cp313"]
    assert (
        build_armv7.wheel_tag("pionnx-0.1.0-cp312-abi3-manylinux_2_41_armv7l.whl") == "cp312-abi3-manylinux_2_41_armv7l"
    )


SIMD_OK = {"status": "passed", "kernels": ["generic", "neon"], "models": {}}


def _collect(
    tmp_path: Path,
    conformance: dict,
    smoke: str = "ok",
    wheel_name: str = "pionnx-0.1.0-cp311-cp311-manylinux_2_36_armv7l.whl",
    simd: dict | None = SIMD_OK,
) -> build_armv7.WheelResult:
    """collect() over a fake cibuildwheel output: one wheel, its build and test reports."""
    variant = build_armv7.variants_for(["bookworm"], abi3=False)[0]
    out_dir = tmp_path / "work" / "out" / variant.name
    out_dir.mkdir(parents=True)
    wheel = out_dir / wheel_name
    wheel.write_bytes(b"PK fake wheel")
    reports, dist = tmp_path / "reports", tmp_path / "dist"
    reports.mkdir()
    dist.mkdir()
    (reports / f"{wheel.name}.build.json").write_text(
        json.dumps({"auditwheel_policy": "manylinux_2_36_armv7l", "ccache": {"hit_rate": 0.5}})
    )
    test = {"test_seconds": 12.5, "smoke": {"status": smoke}, "conformance": conformance}
    if simd is not None:
        test["simd"] = simd
    (reports / f"{wheel.name}.test.json").write_text(json.dumps(test))
    return build_armv7.collect(variant, 0, 100.0, out_dir, dist, reports, skip_tests=False)


def test_a_run_with_conformance_passes(tmp_path):
    result = _collect(tmp_path, {"status": "passed", "total": 30, "passed": 28, "expected_failures": 2})
    assert result.tests == "passed" and result.error == ""
    assert result.tag == "cp311-cp311-manylinux_2_36_armv7l"
    assert result.build_seconds == 87.5 and result.test_seconds == 12.5
    assert (tmp_path / "dist" / result.wheel).read_bytes() == b"PK fake wheel"


@pytest.mark.parametrize(
    "conformance",
    [
        {"status": "not run", "reason": "no exported cases at /host/x"},
        {"status": "passed", "total": 0, "passed": 0},
    ],
)
def test_a_run_without_conformance_cases_fails(tmp_path, conformance):
    # Like pytest's exit code 5: nothing ran, so nothing passed. The wheel is kept.
    result = _collect(tmp_path, conformance)
    assert result.tests == "failed"
    assert "no conformance case ran" in result.error
    assert (tmp_path / "dist" / result.wheel).is_file()


def test_unexpected_conformance_failures_fail_the_wheel(tmp_path):
    result = _collect(tmp_path, {"status": "failed", "total": 30, "passed": 20, "unexpected_failures": 8})
    assert result.tests == "failed"
    result = _collect(tmp_path / "b", {"status": "passed", "total": 30, "passed": 30}, smoke="failed")
    assert result.tests == "failed"


@pytest.mark.parametrize("simd", [{"status": "failed", "kernels": ["generic"]}, None])
def test_a_wrong_or_unchecked_kernel_choice_fails_the_wheel(tmp_path, simd):
    # ci/factory/wheel_tests.py runs ci/checks/simd_dispatch.py (NEON picked when AT_HWCAP has it,
    # the portable kernel on a NEON-less CPU, same answers); a failed or missing check fails the wheel.
    result = _collect(tmp_path, {"status": "passed", "total": 30, "passed": 30}, simd=simd)
    assert result.tests == "failed"
    assert "kernel choice check" in result.error
    assert (tmp_path / "dist" / result.wheel).is_file()
    ok = _collect(tmp_path / "ok", {"status": "passed", "total": 30, "passed": 30})
    assert ok.tests == "passed" and ok.simd["kernels"] == ["generic", "neon"]


def test_host_check_says_what_to_run(monkeypatch, tmp_path):
    with pytest.raises(armv7_host.HostNotReady, match=r"not enough free disk(.|\n)*docker system prune"):
        armv7_host.check_disk([tmp_path], min_gib=1e9)
    # No engine on PATH and no permission to fix: the message names the install command.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        armv7_host.HostNotReady, match=r"no container engine answers(.|\n)*apt-get install -y docker.io"
    ):
        armv7_host.ensure_engine(armv7_host.HostReport(), fix=False)


def test_missing_arch_test_is_named(monkeypatch, tmp_path):
    # mmdebstrap installed without its recommends refuses --arch=armhf: "install arch-test".
    for tool in ("mmdebstrap", "qemu-arm-static"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(armv7_host.HostNotReady, match=r"missing tools: arch-test(.|\n)*apt-get install -y arch-test"):
        armv7_host.ensure_tools(armv7_host.HostReport(), fix=False)


def test_qemu_arm_rule_keeps_debians_preserve_argv0_flag(tmp_path):
    conf = tmp_path / "qemu-arm.conf"
    debian = (
        r":qemu-arm:M::\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00:"
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:"
        "/usr/libexec/qemu-binfmt/arm-binfmt-P:"
    )
    conf.write_text("# comment\n" + debian + "OPF\n")
    assert armv7_host.qemu_arm_rule(conf) == debian + "OPF"
    conf.write_text(debian + "P\n")  # F is always added: containers cannot see the host's interpreter
    assert armv7_host.qemu_arm_rule(conf) == debian + "PF"


def test_binfmt_p_wrapper_registered_without_p_is_unusable():
    # Seen on a fresh host: arm-binfmt-P registered with flags "F" only shifted every
    # program's arguments (arch-test: "armhf: not supported on this machine/kernel").
    broken = {"enabled": "yes", "interpreter": "/usr/libexec/qemu-binfmt/arm-binfmt-P", "flags": "F"}
    assert "preserve-argv0" in armv7_host.entry_problem(broken)
    assert "fix-binary" in armv7_host.entry_problem({**broken, "flags": "OP"})
    assert armv7_host.entry_problem({**broken, "flags": "POF"}) == ""
    assert armv7_host.entry_problem({**broken, "interpreter": "/usr/bin/qemu-arm-static"}) == ""


def test_mmdebstrap_retries_only_what_may_pass_next_time(monkeypatch, tmp_path):
    monkeypatch.setenv("PIONNX_ARMV7_CACHE", str(tmp_path))
    monkeypatch.setattr(armv7_images, "index_problem", lambda suite, arch="armhf": "")
    sleeps: list[float] = []
    monkeypatch.setattr(armv7_images.time, "sleep", sleeps.append)
    calls: list[list[str]] = []
    errors = {"text": ""}

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return armv7_images.subprocess.CompletedProcess(cmd, 1, "", errors["text"])

    monkeypatch.setattr(armv7_images.subprocess, "run", fake_run)
    distro = armv7_images.DISTROS["bookworm"]
    errors["text"] = "I: automatically chosen mode: root\nE: install arch-test for foreign architecture support"
    with pytest.raises(armv7_images.ImageBuildError, match=r"after 1 attempt(.|\n)*install arch-test"):
        armv7_images.make_rootfs(distro, "build")
    assert len(calls) == 1 and sleeps == []

    calls.clear()
    errors["text"] = "E: Failed to fetch http://deb.debian.org/... File has unexpected size (9246 != 9246996)"
    with pytest.raises(armv7_images.ImageBuildError, match=r"mid-sync(.|\n)*after 3 attempt"):
        armv7_images.make_rootfs(distro, "build")
    assert len(calls) == 3 and len(sleeps) == 2


def test_abi3_wheel_fails_the_run_unless_abi3audit_is_clean(tmp_path, monkeypatch):
    passed = {"status": "passed", "total": 30, "passed": 30}
    abi3_name = "pionnx-0.1.0-cp312-abi3-manylinux_2_38_armv7l.whl"
    verdicts = iter(["clean", "violations, see x.abi3audit.json", "abi3audit not installed (pip install abi3audit)"])
    monkeypatch.setattr(build_armv7, "abi3audit", lambda wheel, reports: next(verdicts))
    assert _collect(tmp_path / "a", passed, wheel_name=abi3_name).error == ""
    assert "abi3audit --strict: violations" in _collect(tmp_path / "b", passed, wheel_name=abi3_name).error
    assert "not installed" in _collect(tmp_path / "c", passed, wheel_name=abi3_name).error


def test_cibuildwheel_audit_needs_no_github():
    # cibuildwheel's default abi3 audit downloads virtualenv.pyz from GitHub (seen failing
    # here after a complete abi3 build); the session audits abi3 wheels itself instead.
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    overrides = config["tool"]["cibuildwheel"]["overrides"]
    armv7 = [o for o in overrides if o["select"] == "*-manylinux_armv7l"]
    assert armv7 and armv7[0].get("audit-command") == ""


def test_no_ccache_reaches_the_build_container():
    # `--no-ccache` is how the emulated compile's own cost is measured (issue 12's ratio):
    # CCACHE_DISABLE must be set for cibuildwheel and passed into the container.
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    armv7 = [o for o in config["tool"]["cibuildwheel"]["overrides"] if o["select"] == "*-manylinux_armv7l"]
    assert "CCACHE_DISABLE" in armv7[0]["environment-pass"]
    assert build_armv7.parse_args(["--no-ccache"]).no_ccache
    assert not build_armv7.parse_args([]).no_ccache


# ------------------------------------------------------------ the cross path


def test_cross_build_names_a_missing_target_python(monkeypatch, tmp_path):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(cross_build.shutil, "which", lambda name: None)
    with pytest.raises(cross_build.CrossBuildError, match=r"no CPython 2\.5 .*pyenv install 2\.5"):
        cross_build.find_python("2.5")


def test_cross_toolchain_makes_absolute_symlinks_relative(tmp_path):
    # lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-2.31.so in Debian's libc6: inside a
    # sysroot it must point into the tree, not at the host's (missing or newer) loader.
    (tmp_path / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "lib" / "x86_64-linux-gnu" / "ld-2.31.so").write_text("loader")
    (tmp_path / "lib64").mkdir()
    link = tmp_path / "lib64" / "ld-linux-x86-64.so.2"
    link.symlink_to("/lib/x86_64-linux-gnu/ld-2.31.so")
    (tmp_path / "lib64" / "relative").symlink_to("../lib")
    assert cross_toolchain.relativize_symlinks(tmp_path) == 1
    assert link.read_text() == "loader"
    assert not str(link.readlink()).startswith("/")
    assert str((tmp_path / "lib64" / "relative").readlink()) == "../lib"


def test_cross_toolchain_has_no_python_310_headers_for_arm(monkeypatch):
    # Debian ships no Python 3.10: the ARM wheels of 3.10 are not built (and the report says why),
    # never built against the host's x86-64 headers.
    arm = [cross_toolchain.TARGETS["armv7l"], cross_toolchain.TARGETS["aarch64"]]
    monkeypatch.setattr(cross_toolchain, "unpack", lambda *a, **k: pytest.fail("nothing to unpack for 3.10"))
    assert cross_toolchain.ensure_headers("3.10", arm) == {}


def test_cross_build_names_the_target_extension_suffix():
    targets = cross_toolchain.TARGETS
    assert cross_build.ext_suffix(targets["armv7l"], "3.11") == ".cpython-311-arm-linux-gnueabihf.so"
    assert cross_build.ext_suffix(targets["aarch64"], "3.9") == ".cpython-39-aarch64-linux-gnu.so"
    assert cross_build.ext_suffix(targets["x86_64"], "abi3") == ".abi3.so"


def test_cross_build_reads_the_glibc_of_a_policy():
    assert cross_build.glibc_of_policy("manylinux_2_31_armv7l.whl") == (2, 31)
    assert cross_build.glibc_of_policy("manylinux_2_36_aarch64") == (2, 36)
    assert cross_build.glibc_of_policy("linux_x86_64") is None
    assert cross_build.glibc_of_policy("manylinux_2_36_aarch64") > cross_toolchain.GLIBC_FLOOR


def test_every_cross_target_has_a_toolchain_file():
    for target in cross_toolchain.TARGETS.values():
        text = target.toolchain_file.read_text()
        assert f"set(PIONNX_CROSS_TRIPLE {target.triple})" in text
        assert "gcc10-bullseye.cmake" in text


def test_the_armv7_baseline_flags_are_written_once():
    # Every consumer reads runtime/cmake/armv7-baseline-flags.txt; no second spelling to drift.
    flags = (ROOT / "runtime" / "cmake" / "armv7-baseline-flags.txt").read_text().strip()
    assert flags == "-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard"
    spelled = []
    for pattern in (
        "ci/**/*",
        "runtime/CMakeLists.txt",
        "bindings/CMakeLists.txt",
        "pyproject.toml",
        "noxfile.py",
        "docker/*/*",
    ):
        for path in ROOT.glob(pattern):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if "vfpv3-d16" in path.read_text(errors="replace").replace("vfpv3-d16 (", ""):
                spelled.append(str(path.relative_to(ROOT)))
    assert spelled == [], f"the armv7 baseline spelled out again in {spelled}"


def test_build_cross_rejects_an_unknown_architecture():
    with pytest.raises(SystemExit, match=r"unknown architecture\(s\) \['riscv64'\]"):
        build_cross.parse_args(["--arch", "armv7l,riscv64"])
    args = build_cross.parse_args(["--arch", "aarch64", "--python", "3.11,abi3"])
    assert args.arch == ["aarch64"] and args.python == ["3.11", "abi3"]


def test_build_cross_fails_by_name_but_not_on_the_documented_gap(tmp_path, capsys):
    ok = build_cross.CrossResult("x86_64", "3.11", wheel="a.whl", tests="passed")
    broken = build_cross.CrossResult("aarch64", "3.9", error="build failed: boom")
    untested = build_cross.CrossResult("armv7l", "abi3", wheel="b.whl", tests="failed", error="the tiny model failed")
    gap = build_cross.CrossResult("armv7l", "3.10", tests="not built", note="not built: no headers")
    bad = build_cross.failed([ok, broken, untested, gap])
    assert [r.label for r in bad] == ["aarch64/cp39", "armv7l/abi3"]
    build_cross.print_table([ok, broken, untested, gap])
    table = capsys.readouterr().out
    assert "FAILED: build failed: boom" in table and "not built: no headers" in table


# ------------------------------------------------------------- the CPU matrix


def test_cpu_matrix_rungs_force_every_path_of_every_family_once():
    avx512_vnni = {
        "sgemm": ["generic", "avx2", "avx512"],
        "qgemm": ["generic", "sse2", "avx2", "vnni", "vnni512"],
        "fastmath": ["generic", "avx2", "avx512"],
        "depthwise": ["generic", "avx2", "avx512"],
        "nchwc": ["generic", "avx2", "avx512"],
    }
    rungs = cpu_matrix.rungs(avx512_vnni)
    assert [tuple(r.values()) for r in rungs] == [
        ("generic", "generic", "generic", "generic", "generic"),
        ("avx2", "sse2", "avx2", "avx2", "avx2"),
        ("avx512", "avx2", "avx512", "avx512", "avx512"),
        ("avx512", "vnni", "avx512", "avx512", "avx512"),
    ]
    # The top rung (every family's fastest) is nox -s tests' own run; together they cover every path.
    for family, paths in avx512_vnni.items():
        assert {r[family] for r in rungs} | {paths[-1]} == set(paths)
    avx2_only = {
        "sgemm": ["generic", "avx2"],
        "qgemm": ["generic", "sse2", "avx2"],
        "fastmath": ["generic", "avx2"],
        "depthwise": ["generic", "avx2"],
        "nchwc": ["generic", "avx2"],
    }
    assert [tuple(r.values()) for r in cpu_matrix.rungs(avx2_only)] == [
        ("generic", "generic", "generic", "generic", "generic"),
        ("avx2", "sse2", "avx2", "avx2", "avx2"),
    ]


def test_cpu_matrix_reads_pytest_summaries():
    out = "....\n===== 2186 passed, 58 xfailed, 3 warnings in 36.70s =====\n"
    assert cpu_matrix.summary_of(out) == "2186 passed, 58 xfailed, 3 warnings in 36.70s"
    assert cpu_matrix.summary_of("no tests ran in 0.01s\n") == "no tests ran in 0.01s"


# ------------------------------------------------------- cross/emulated equivalence


def _wheel(path: Path, files: list[str]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name in files:
            zf.writestr(name, "x")
    return path


def _conformance(path: Path, outcomes: dict) -> None:
    path.write_text(json.dumps({"results": [{"id": k, "outcome": v} for k, v in outcomes.items()]}))


def test_wheel_equivalence_names_only_the_glibc_floor_as_a_note(tmp_path):
    files = ["pionnx/__init__.py", "pionnx/_core.cpython-311-arm-linux-gnueabihf.so"]
    a = _wheel(tmp_path / "pionnx-0.1.0-cp311-cp311-manylinux_2_31_armv7l.whl", files)
    b = _wheel(tmp_path / "pionnx-0.1.0-cp311-cp311-manylinux_2_36_armv7l.whl", files)
    _conformance(tmp_path / f"{a.name}.conformance.json", {"t1": "passed", "t2": "failed"})
    _conformance(tmp_path / f"{b.name}.conformance.json", {"t1": "passed", "t2": "failed"})
    result = wheel_equivalence.compare(a, b, tmp_path, tmp_path)
    assert result["equivalent"] and result["notes"] and "2.31" in result["notes"][0]


def test_wheel_equivalence_finds_a_missing_file_and_a_differing_case(tmp_path):
    a = _wheel(tmp_path / "pionnx-0.1.0-cp311-cp311-manylinux_2_31_armv7l.whl", ["pionnx/a.py", "pionnx/b.py"])
    b = _wheel(tmp_path / "pionnx-0.1.0-cp39-cp39-manylinux_2_31_armv7l.whl", ["pionnx/a.py"])
    _conformance(tmp_path / f"{a.name}.conformance.json", {"t1": "passed", "t2": "passed"})
    _conformance(tmp_path / f"{b.name}.conformance.json", {"t1": "passed", "t2": "crashed"})
    result = wheel_equivalence.compare(a, b, tmp_path, tmp_path)
    assert not result["equivalent"]
    text = "\n".join(result["problems"])
    assert "python: cp311 vs cp39" in text and "pionnx/b.py" in text and "1 conformance case" in text


def test_one_process_at_a_time_makes_an_image(tmp_path, monkeypatch, capsys):
    # .ci/run starts the armv7l run image in the background and the cross factory asks for the
    # same one later: the second caller waits for the first, then finds the image made, instead
    # of running mmdebstrap into the same partial file.
    monkeypatch.setenv("PIONNX_ARMV7_CACHE", str(tmp_path))
    distro = armv7_images.DISTROS["bookworm"]
    made: list[str] = []
    first_inside, release_first = threading.Event(), threading.Event()

    def fake_ensure(distro, kind, engine, arch, tag):  # what runs under the lock
        if tag not in made:  # (the real one asks the engine whether the image exists)
            made.append(tag)
            first_inside.set()
            release_first.wait(10)
        return tag

    monkeypatch.setattr(armv7_images, "_ensure_image", fake_ensure)
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(armv7_images.ensure_image(distro, "run")))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=lambda: results.append(armv7_images.ensure_image(distro, "run")))
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second caller did not wait for the first"
    release_first.set()
    first.join(10)
    second.join(10)
    tag = armv7_images.image_tag(distro, "run")
    assert results == [tag, tag] and made == [tag]
    assert "being made by pid" in capsys.readouterr().out
