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
    problems = []
    for family in sorted(families):
        sources_ = sorted((kernels / family).glob("*.cc"))
        entry = [p.name for p in sources_ if re.search(rf"^void register_{family}_family\(", p.read_text(), re.M)]
        # One registration file: register.cc, or the family's only .cc file.
        want = ["register.cc"] if len(sources_) > 1 else [p.name for p in sources_]
        if entry != want:
            problems.append(f"{family}: register_{family}_family defined in {entry or 'no file'}, expected {want}")
    assert not problems, "\n".join(problems)
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
    bad = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in others
        for m in probes.finditer(re.sub(r"//[^\n]*", "", p.read_text(errors="replace")))
    ]
    assert not bad, "CPU or environment probes outside platform/cpu_features.cc:\n" + "\n".join(bad)
    assert probes.search(owner.read_text()), "platform/cpu_features.cc no longer probes the CPU"


ISA_MACRO = re.compile(
    r"^\s*#\s*(?:if|ifdef|ifndef|elif)\b.*(?:__x86_64__|__i386__|__SSE|__AVX|__ARM_NEON|__aarch64__|__arm__)", re.M
)
ISA_INTRINSICS = re.compile(r"\b_mm(?:256|512)?_\w+|\bv\w+q_[suf]\d+\b|immintrin\.h|arm_neon\.h")


def test_simd_drivers_hold_no_instruction_set_code():
    """MLAS's layout: in kernels/simd/ a family's driver (the file without an ISA suffix) carries no
    instruction-set #if blocks and no intrinsics; those live in <family>_<isa>.cc files only."""
    isa_suffix = re.compile(r"_(?:sse2|avx2|avx512|vnni|amx|neon)$")
    drivers = [p for p in sources(SRC / "kernels" / "simd") if p.suffix == ".cc" and not isa_suffix.search(p.stem)]
    assert {p.name for p in drivers} >= {"sgemm.cc", "qgemm.cc", "elementwise_math.cc"}
    bad = []
    for p in drivers:
        text = re.sub(r"//[^\n]*", "", p.read_text())
        bad += [f"{p.name}: {m.group(0).strip()}" for m in ISA_MACRO.finditer(text)]
        bad += [f"{p.name}: {m.group(0)}" for m in ISA_INTRINSICS.finditer(text)]
    assert not bad, "instruction-set code in a driver:\n" + "\n".join(bad)
    per_isa = {p.name for p in sources(SRC / "kernels" / "simd") if isa_suffix.search(p.stem)}
    assert {"qgemm_sse2.cc", "qgemm_avx2.cc", "qgemm_vnni.cc", "qgemm_neon.cc", "sgemm_avx2.cc"} <= per_isa


def test_bindings_reach_only_public_headers():
    bad = [
        f"{p.name} includes {inc}"
        for p in sources(ROOT / "bindings" / "src")
        for inc in includes(p)
        if not inc.startswith("pionnx/")
    ]
    assert not bad, "the bindings include private runtime headers:\n" + "\n".join(bad)
    assert all(
        (ROOT / "runtime" / "include" / inc).is_file()
        for p in sources(ROOT / "bindings" / "src")
        for inc in includes(p)
    )


OPERATORS_INC = SRC / "kernels" / "base" / "operators.inc"
OP_ROW = re.compile(r'^PIONNX_OP\(\s*"([^"]*)",\s*"([A-Za-z0-9_]+)",\s*(\d+),\s*(\w+)\)\s*$', re.M)


def registrations():
    """(domain, op, since, until) of every row of kernels/base/operators.inc, the registry's one table."""
    return OP_ROW.findall(OPERATORS_INC.read_text())


def test_operator_table_is_the_only_place_with_opset_ranges():
    """Every row of operators.inc parses, no (domain, op, since) twice, and no kernel file passes opset
    numbers to the registry: `r.add` / `r.add_fn` take (domain, op, implementation) only."""
    text = OPERATORS_INC.read_text()
    rows = registrations()
    macro_lines = [ln for ln in text.splitlines() if ln.startswith("PIONNX_OP(")]
    assert len(rows) == len(macro_lines) > 200, "an operators.inc row does not parse"
    keys = [(d, op, since) for d, op, since, _ in rows]
    assert len(keys) == len(set(keys)), "a (domain, op, since) row is listed twice"
    versioned = re.compile(r'\br\.add(?:_fn)?(?:<[^;]*?>)?\(\s*[^,()]+,\s*"[A-Za-z0-9]+",\s*\d+\s*,')
    bad = [
        f"{p.relative_to(SRC)}: {m.group(0)}"
        for p in sources(SRC / "kernels")
        for m in versioned.finditer(p.read_text())
    ]
    assert not bad, "opset numbers passed to the registry outside kernels/base/operators.inc:\n" + "\n".join(bad)


def test_no_literal_opset_stands_for_open_ended():
    """A kernel registered through the newest opset says kOpenEnded, not the number it was
    written against; a literal `until` is a real end (a later opset changed the semantics)."""
    found = list(registrations())
    assert len(found) > 150, f"the registration parser found only {len(found)} registrations"
    kernel_h = (SRC / "kernels" / "base" / "kernel.h").read_text()
    latest = int(re.search(r"constexpr int kLatestOpset = (\d+);", kernel_h).group(1))
    starts = {(d, op, since) for d, op, since, _ in found}
    bad = [
        f"{d}::{op} until {until}"
        for d, op, _, until in found
        if until.isdigit() and int(until) >= latest - 2 and (d, op, str(int(until) + 1)) not in starts
    ]
    assert not bad, "literal opsets standing for open-ended:\n" + "\n".join(bad)
