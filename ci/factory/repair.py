"""repair-wheel-command for armv7l, run inside the build container.

auditwheel repairs the wheel (the tag comes from the glibc symbols it really
uses), then `auditwheel show` and the ccache statistics of this build are kept
in the reports folder the host gave (PIONNX_ARMV7_REPORTS, under /host).

    python -m ci.factory.repair WHEEL DEST_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def ccache_stats() -> dict[str, int]:
    """Hits and misses of this build (ccache was zeroed in before-build)."""
    out = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True, check=False)
    stats: dict[str, int] = {}
    if out.returncode == 0:
        for line in out.stdout.splitlines():
            key, _, value = line.partition("\t")
            if value.strip().isdigit():
                stats[key.strip()] = int(value)
        hits = stats.get("direct_cache_hit", 0) + stats.get("preprocessed_cache_hit", 0)
        misses = stats.get("cache_miss", 0)
    else:  # ccache < 4.2 has no --print-stats; read the human table
        text = subprocess.run(["ccache", "-s"], capture_output=True, text=True, check=False).stdout
        hits = misses = 0
        for line in text.splitlines():
            low = line.lower()
            num = [int(tok) for tok in line.split() if tok.isdigit()]
            if low.startswith("cache hit") and num:
                hits += num[0]
            elif low.startswith("cache miss") and num:
                misses += num[0]
    total = hits + misses
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / total, 3) if total else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the wheel the build made ({wheel})")
    parser.add_argument("dest", type=Path, help="where the repaired wheel goes ({dest_dir})")
    args = parser.parse_args(argv)
    wheel, dest = args.wheel, args.dest
    reports = Path(os.environ.get("PIONNX_ARMV7_REPORTS", "/tmp/pionnx-armv7-reports"))
    reports.mkdir(parents=True, exist_ok=True)
    ident = os.environ.get("CIBUILDWHEEL_BUILD_IDENTIFIER", "unknown")
    variant = os.environ.get("PIONNX_ARMV7_VARIANT", "")

    cache = ccache_stats()
    human = subprocess.run(["ccache", "-s"], capture_output=True, text=True, check=False).stdout
    print("[armv7-repair] ccache for this build:\n" + human, flush=True)

    subprocess.run(["auditwheel", "repair", "-w", str(dest), str(wheel)], check=True)
    (repaired,) = sorted(dest.glob("*.whl"))
    show = subprocess.run(["auditwheel", "show", str(repaired)], capture_output=True, text=True, check=True).stdout
    print(show, flush=True)
    policy = ""
    for token in show.replace('"', " ").split():
        if token.startswith("manylinux_") and token.endswith("armv7l"):
            policy = token.rstrip(".")
            break
    (reports / f"{repaired.name}.auditwheel.txt").write_text(show)
    (reports / f"{repaired.name}.ccache.txt").write_text(human)
    (reports / f"{repaired.name}.build.json").write_text(
        json.dumps(
            {
                "wheel": repaired.name,
                "identifier": ident,
                "variant": variant,
                "auditwheel_policy": policy,
                "ccache": cache,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
