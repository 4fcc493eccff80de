"""The tooling as packages: `ci/` is imported and run as `python -m ci.<package>.<module>`, from the
repository root or with it on PYTHONPATH, never by file path and never with sys.path edited.

Renaming a module must fail here, not an hour into an emulated build: every `python -m ci....` and
every `ci/...` path the repository names exists, every entry point answers --help, and the three
commands cibuildwheel runs inside the armv7 container find their module from another folder exactly
as written in pyproject.toml.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"


def ci_files(pattern: str) -> list[Path]:
    return sorted(p for p in CI.rglob(pattern) if "__pycache__" not in p.parts)


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def no_pythonpath() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


# ------------------------------------------------------------------ the layout


def test_ci_is_packages_with_no_path_edits():
    assert [p.name for p in CI.glob("*.py")] == ["__init__.py"], "a module directly in ci/: put it in a package"
    for folder in sorted({p.parent for p in ci_files("*.py")}):
        assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"
    edits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in [*ci_files("*.py"), *ci_files("*.sh")]
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"sys\.path\.(insert|append)|PYTHONPATH=\S*/ci\b", line)
    ]
    assert edits == [], "sys.path edited (import ci.<package>.<module> instead): " + ", ".join(edits)
    # pytest collects test_*.py: a tool named so would be run as a test.
    assert [p.name for p in ci_files("test_*.py")] == []


# Every file of the repository that names a ci module or path (runtime/ and bindings/ only in
# comments of generated or C++ files, left to their owners).
def naming_files() -> list[Path]:
    files = [ROOT / name for name in ("noxfile.py", "pyproject.toml", "README.md", "ARCHITECTURE.md")]
    files += [ROOT / ".ci" / "run", ROOT / ".pre-commit-config.yaml"]
    files += sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    files += sorted((ROOT / "docs").glob("*.md"))
    # The image recipes (not docker/armv7/cache/, root file systems made there).
    files += sorted(p for p in (ROOT / "docker").rglob("*") if p.is_file() and "cache" not in p.parts)
    files += [*ci_files("*.py"), *ci_files("*.sh"), *ci_files("*.cmake")]
    files += sorted((ROOT / "tests").rglob("*.py"))
    return [p for p in files if p.is_file()]


MODULE_RE = re.compile(r"""-m["',\s]+(ci(?:\.\w+)+)""")
PATH_RE = re.compile(r"(?<![\w./-])((?:ci|tests)/[\w/.-]*\w\.(?:py|sh|cmake))\b")


def test_every_ci_module_and_path_named_exists():
    missing = []
    for path in naming_files():
        text = path.read_text(errors="replace")
        for module in MODULE_RE.findall(text):
            if not (ROOT / (module.replace(".", "/") + ".py")).is_file():
                missing.append(f"{path.relative_to(ROOT)}: python -m {module}")
        for named in PATH_RE.findall(text):
            if not (ROOT / named).exists():
                missing.append(f"{path.relative_to(ROOT)}: {named}")
    assert missing == [], "named but not there:\n" + "\n".join(sorted(set(missing)))


ENTRY_POINTS = [module_of(p) for p in ci_files("*.py") if 'if __name__ == "__main__":' in p.read_text()]


def test_the_entry_points_are_the_expected_ones():
    assert len(ENTRY_POINTS) >= 20
    assert {"ci.factory.build_cross", "ci.factory.release", "ci.bench.run", "ci.checks.cpu_matrix"} <= set(ENTRY_POINTS)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_entry_point_answers_help_from_the_root(module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        env=no_pythonpath(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stdout + proc.stderr


def test_the_root_on_the_path_shadows_no_installed_package(tmp_path):
    """PYTHONPATH=<root> (the cibuildwheel commands, the test containers, a child of a ci module) adds
    the ci package and noxfile, nothing else that imports: pionnx stays the installed one."""
    importable = sorted(
        p.stem if p.suffix == ".py" else p.name
        for p in ROOT.iterdir()
        if (p.suffix == ".py" and p.is_file()) or (p / "__init__.py").is_file()
    )
    assert importable == ["ci", "noxfile"]
    code = "import importlib.util; print(importlib.util.find_spec('pionnx').origin)"
    where = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        ).stdout
        for env in (no_pythonpath(), {**no_pythonpath(), "PYTHONPATH": str(ROOT)})
    ]
    assert where[0] == where[1], where


# ------------------------------------------------- the commands cibuildwheel runs in the container

CIBW_COMMANDS = ("before-build", "repair-wheel-command", "test-command")
# `[cd DIR &&] [NAME=VALUE ...] python -m MODULE ARGS`, the one module call of a command.
CALL_RE = re.compile(
    r"(?P<prefix>(?:cd\s+\S+\s*&&\s*)?(?:[A-Za-z_]\w*=\S*\s+)*)python3?\s+-m\s+(?P<module>[\w.]+)(?P<args>[^;&|]*)"
)


def armv7_override() -> dict:
    tomllib = pytest.importorskip("tomllib")
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]["overrides"]
    (armv7,) = [o for o in overrides if o["select"] == "*-manylinux_armv7l"]
    return armv7


@pytest.mark.parametrize("key", CIBW_COMMANDS)
def test_a_cibuildwheel_command_finds_its_module_from_another_folder(key, tmp_path):
    """As in the container: {project} the project, {wheel} and {dest_dir} absolute paths elsewhere,
    run by `sh -c` from another folder (test-command runs from a temporary one)."""
    command = armv7_override()[key]
    assert set(re.findall(r"\{(\w+)\}", command)) <= {"project", "wheel", "dest_dir"}, command
    text = (
        command.replace("{project}", str(ROOT))
        .replace("{wheel}", str(tmp_path / "built" / "pionnx-0.1.0-cp311-cp311-linux_armv7l.whl"))
        .replace("{dest_dir}", str(tmp_path / "repaired"))
    )
    calls = list(CALL_RE.finditer(text))
    assert len(calls) == 1, f"{key}: one `python -m ci....` call expected in {command!r}"
    prefix, module, args = calls[0]["prefix"], calls[0]["module"], calls[0]["args"]
    assert module.startswith("ci."), command
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    python = shlex.quote(sys.executable)

    def sh(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "-c", script], cwd=elsewhere, env=no_pythonpath(), capture_output=True, text=True, check=False
        )

    find = shlex.quote(f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)")
    assert sh(f"{python} -c {find}").returncode != 0, "ci imports from anywhere here: this test could not tell"
    found = sh(f"{prefix}{python} -c {find}")
    assert found.returncode == 0, f"{key}: {module} not found as the command runs it\n{found.stderr}"
    helped = sh(f"{prefix}{python} -m {module} --help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage:"), helped.stdout + helped.stderr
    # The command passes as many arguments as the module's usage names.
    usage = re.sub(r"\[[^\]]*\]", "", helped.stdout.split("\n\n")[0]).split()[2:]
    assert len(shlex.split(args)) == len(usage), f"{key}: passes {args.strip()!r}, {module} takes {usage}"
