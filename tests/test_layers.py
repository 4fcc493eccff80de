"""The runtime's layers point one way (ARCHITECTURE.md): each folder of runtime/src includes only
itself, the layers below it and the public headers; kernels live in family folders and never see the
executor; one file asks the CPU what it has; the bindings reach only the public headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "runtime" / "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# Bottom to top. A layer may include itself, anything listed before it, and the public pionnx/ headers.
LAYERS = ["platform", "core", "ir", "proto", "kernels", "optimize", "exec"]
# Shared by every kernel family.
KERNEL_SHARED = {"base", "simd"}


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".h", ".cc"))


def includes(path: Path) -> list[str]:
    return INCLUDE.findall(path.read_text(errors="replace"))


def test_every_source_is_in_a_layer():
    stray = [p.relative_to(SRC).as_posix() for p in sources(SRC) if p.relative_to(SRC).parts[0] not in LAYERS]
    assert not stray, f"files outside the layers {LAYERS}: {stray}"


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_includes_only_itself_and_below(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | {"pionnx"}
    bad = []
    for path in sources(SRC / layer):
        for inc in includes(path):
            top = inc.split("/")[0]
            if "/" in inc and top not in allowed:
                bad.append(f"{path.relative_to(SRC)} includes {inc}")
    assert not bad, f"{layer} reaches a layer above it:\n" + "\n".join(bad)


def test_kernels_sit_in_family_folders():
    kernels = SRC / "kernels"
    loose = [p.name for p in kernels.iterdir() if p.is_file()]
    assert not loose, f"files directly under runtime/src/kernels/ (put them in a family folder): {loose}"
    families = {p.name for p in kernels.iterdir() if p.is_dir()} - KERNEL_SHARED
    missing = sorted(f for f in families if not (kernels / f / "register.cc").is_file())
    assert not missing, f"families without their one registration file register.cc: {missing}"
    # Every family is reached from the registry through families.h.
    families_h = (kernels / "base" / "families.h").read_text()
    unlisted = sorted(f for f in families if f"register_{f}_family" not in families_h)
    assert not unlisted, f"families the registry does not call: {unlisted}"


def test_kernels_include_other_families_only_by_header():
    kernels = SRC / "kernels"
    bad = []
    for path in sources(kernels):
        family = path.relative_to(kernels).parts[0]
        for inc in includes(path):
            parts = inc.split("/")
            if parts[0] == "kernels" and len(parts) > 2 and parts[1] not in KERNEL_SHARED | {family}:
                if not inc.endswith(".h"):
                    bad.append(f"{path.relative_to(SRC)} includes {inc}")
    assert not bad, "\n".join(bad)


def test_one_place_asks_the_cpu():
    """cpuid, AT_HWCAP and the PIONNX_* kernel-choice variables are read in platform/cpu_features.cc only."""
    owner = SRC / "platform" / "cpu_features.cc"
    probes = re.compile(r"__builtin_cpu_supports|__builtin_cpu_init|getauxval\s*\(|\bgetenv\s*\(")
    others = [p for p in sources(SRC) + sources(ROOT / "bindings" / "src") if p != owner]
    bad = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in others
           for m in probes.finditer(re.sub(r"//[^\n]*", "", p.read_text(errors="replace")))]
    assert not bad, "CPU or environment probes outside platform/cpu_features.cc:\n" + "\n".join(bad)
    assert probes.search(owner.read_text()), "platform/cpu_features.cc no longer probes the CPU"


def test_bindings_reach_only_public_headers():
    bad = [f"{p.name} includes {inc}" for p in sources(ROOT / "bindings" / "src") for inc in includes(p)
           if not inc.startswith("pionnx/")]
    assert not bad, "the bindings include private runtime headers:\n" + "\n".join(bad)
    assert all((ROOT / "runtime" / "include" / inc).is_file()
               for p in sources(ROOT / "bindings" / "src") for inc in includes(p))
