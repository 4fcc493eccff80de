"""The GitHub Actions workflows, checked here where GitHub cannot be reached.

actionlint and zizmor find nothing in .github/workflows/ (and each does find a planted mistake);
every `nox -s NAME` the workflows call is a session of noxfile.py; the release builds every
architecture and Python the local factory builds; every action is pinned to a full commit SHA
with its tag named; permissions are read-only except where a job needs more; publishing waits
for every build and test and uses trusted publishing.
"""

from __future__ import annotations

import ast
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # pyyaml, in the test dependencies: a missing one fails, it does not skip

from ci.factory import release

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

FILES = sorted(WORKFLOWS.glob("*.yml"))
USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PIN_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    wf = yaml.safe_load(path.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def steps(wf: dict):
    for job_name, job in wf["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def tool(name: str) -> str:
    """The linter's executable: beside this Python (the nox venv), else on PATH. The test deps
    install both on x86_64; elsewhere a missing one is a skip that says so."""
    here = Path(sys.executable).parent / name
    exe = str(here) if here.exists() else shutil.which(name)
    if exe is None:
        if platform.machine() == "x86_64":
            pytest.fail(f"{name} is not installed: nox -s tests installs it (see BASE_TEST_DEPS in noxfile.py)")
        pytest.skip(f"{name} has no wheel for {platform.machine()} here; the x86_64 runs and CI's lint job run it")
    return exe


def test_the_workflows_exist():
    assert {p.name for p in FILES} >= {"ci.yml", "release.yml"}


# ------------------------------------------------------------------ the linters


def test_actionlint_finds_nothing():
    proc = subprocess.run([tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_actionlint_sees_a_planted_mistake(tmp_path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n      - uses: actions/checkout@v4\n        with: {no-such-input: 1}\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    proc = subprocess.run([tool("actionlint"), "-no-color"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "matrix" in proc.stdout, proc.stdout + proc.stderr


def test_zizmor_finds_nothing():
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout, proc.stdout + proc.stderr


def test_zizmor_sees_a_planted_injection(tmp_path):
    (tmp_path / "bad.yml").write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(tmp_path / "bad.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "template-injection" in proc.stdout, proc.stdout + proc.stderr


# ------------------------------------------------------------------ what the workflows call


def nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                target = call.func if call else deco
                if ast.unparse(target) in ("nox.session", "session"):
                    name = node.name
                    for kw in call.keywords if call else []:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            name = kw.value.value
                    names.add(name)
    return names


def test_every_nox_session_the_workflows_call_exists():
    sessions = nox_sessions()
    assert {"tests", "lint", "build_cross", "release", "reproducible"} <= sessions
    called = set()
    for path in FILES:
        for _, step in steps(load(path)):
            called |= set(re.findall(r"\bnox\s+(?:[^\n]*?\s)?-s\s+([A-Za-z0-9_]+)", step.get("run", "")))
    assert called, "the workflows call no nox session"
    assert called <= sessions, f"not in noxfile.py: {sorted(called - sessions)}"


def test_release_matrix_covers_every_arch_and_python_of_the_factory():
    wf = load(WORKFLOWS / "release.yml")
    job = wf["jobs"]["wheels"]
    include = job["strategy"]["matrix"]["include"]
    assert {leg["arch"] for leg in include} == set(release.ARCHES)
    # aarch64 and armv7l natively on the ARM runners; armv7l's QEMU fallback only on request.
    by_arch = {leg["arch"]: leg["os"] for leg in include}
    assert by_arch["aarch64"] == "ubuntu-24.04-arm"
    assert "ubuntu-24.04-arm" in by_arch["armv7l"] and "inputs.armv7l-qemu" in by_arch["armv7l"]
    qemu = [s for _, s in steps(wf) if s.get("uses", "").startswith("docker/setup-qemu-action@")]
    assert qemu and "runner.arch == 'X64'" in qemu[0]["if"]
    assert wf["on"]["workflow_dispatch"]["inputs"]["armv7l-qemu"]["default"] is False
    (cibw,) = [s for s in job["steps"] if "cibuildwheel" in s.get("run", "")]
    # The same cibuildwheel as the emulated factory's.
    pinned = re.search(r'^CIBUILDWHEEL = "([^"]+)"$', (ROOT / "noxfile.py").read_text(), re.M)[1]
    assert f"pip install {pinned}" in cibw["run"]
    selectors = cibw["env"]["CIBW_BUILD"].split()
    for python in release.PYTHONS:
        tag = "cp312" if python == "abi3" else "cp" + python.replace(".", "")
        assert f"{tag}-*" in selectors, f"the release builds no {tag}"
    assert cibw["env"]["CIBW_ARCHS"] == "${{ matrix.arch }}"


# ------------------------------------------------------------------ hygiene


def test_every_action_is_pinned_to_a_commit_with_its_tag_named():
    seen = 0
    for path in FILES:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = USES_RE.match(line)
            if not m:
                continue
            seen += 1
            assert PIN_RE.match(m["ref"]), f"{path.name}:{n}: {m['ref']} is not pinned to a full commit SHA"
            assert re.search(r"#\s*v\d+(\.\d+)*\s*$", m["rest"]), f"{path.name}:{n}: name the tag in a comment"
    assert seen >= 10


def test_permissions_are_read_only_except_where_a_job_needs_more():
    allowed = {
        ("release.yml", "publish"): {"id-token": "write"},
        ("release.yml", "github-release"): {"contents": "write"},
    }
    for path in FILES:
        wf = load(path)
        assert wf["permissions"] == {"contents": "read"}, path.name
        assert "pull_request_target" not in (wf["on"] if isinstance(wf["on"], (dict, list)) else [wf["on"]])
        for name, job in wf["jobs"].items():
            assert job.get("permissions", {}) == allowed.get((path.name, name), {}), f"{path.name}: {name}"


def test_checkouts_keep_no_credentials_and_no_expression_reaches_a_shell():
    for path in FILES:
        for job, step in steps(load(path)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: {job}"
            assert "${{" not in step.get("run", ""), f"{path.name}: {job}: pass it through env:, not into run:"


def test_publishing_waits_for_every_build_and_uses_trusted_publishing():
    jobs = load(WORKFLOWS / "release.yml")["jobs"]
    assert set(jobs["collect"]["needs"]) == {"version", "sdist", "wheels"}
    assert set(jobs["publish"]["needs"]) >= {"version", "collect"}
    assert "publish" in jobs["github-release"]["needs"]
    assert jobs["publish"]["environment"]["name"] == "${{ inputs.index || 'pypi' }}"
    (pub,) = [s for s in jobs["publish"]["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert "password" not in pub.get("with", {}), "trusted publishing: no token"
    # The version job refuses a tag that is not v<version> before anything is built.
    assert "python -m ci.factory.release version" in jobs["version"]["steps"][-1]["run"]
    assert all("version" in (job.get("needs") or []) for name, job in jobs.items() if name != "version")


@pytest.mark.parametrize(
    ("ref_type", "ref_name", "index", "ok"),
    [
        ("tag", "v{v}", "pypi", True),
        ("tag", "v{v}.post1", "pypi", False),
        ("tag", "{v}", "testpypi", False),
        ("branch", "main", "testpypi", True),
        ("branch", "main", "pypi", False),
    ],
)
def test_the_version_gate(ref_type, ref_name, index, ok):
    version = release.read_version()
    problem = release.check_ref(version, ref_type, ref_name.format(v=version), index)
    assert (problem == "") is ok, problem


def test_pre_commit_hooks_pin_the_linters_nox_lint_runs():
    """`nox -s lint`, the CI lint job and the pre-commit hooks must judge a change alike: the same
    pinned ruff and clang-format, and nox -s lint runs in .ci/run."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    pins = {
        t.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for t in node.targets
        if isinstance(t, ast.Name) and t.id in ("RUFF", "CLANG_FORMAT")
    }
    assert set(pins) == {"RUFF", "CLANG_FORMAT"}, pins
    hooks = [h for repo in load(ROOT / ".pre-commit-config.yaml")["repos"] for h in repo["hooks"]]
    deps = {d for h in hooks for d in h.get("additional_dependencies", [])}
    assert deps == set(pins.values()), f"pre-commit pins {sorted(deps)}, noxfile.py pins {sorted(pins.values())}"
    assert {h["id"] for h in hooks} >= {"ruff-check", "ruff-format", "clang-format"}
    assert re.search(r"^step .*nox -s lint", (ROOT / ".ci" / "run").read_text(), re.M), ".ci/run does not lint"
