"""before-build for armv7l: install the project's build requirements into the
image's /opt/python venv, so the wheel is built without build isolation.

Why: an isolated build puts nanobind's sources under a fresh random temporary
folder each time, and ccache then never hits on them. Installed here they sit
at one fixed path per image, and a second build is mostly cache hits.

    python -m ci.factory.build_deps PROJECT_DIR [-Ckey=value ...]
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys


def pip_install(requirements: list[str]) -> None:
    if requirements:
        print("[armv7-build-deps] pip install " + " ".join(requirements), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", *requirements], check=True)


def project_builder() -> type:
    """pypa/build's ProjectBuilder, installing build first where the interpreter lacks it. With the
    project root on sys.path (`python -m` from it), a build/ folder there imports as an empty
    namespace package when pypa/build is missing: that counts as missing too."""
    try:
        from build import ProjectBuilder
    except ImportError:  # an image whose interpreters lack pypa/build
        pip_install(["build"])
        sys.modules.pop("build", None)
        importlib.invalidate_caches()
        from build import ProjectBuilder
    return ProjectBuilder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", help="the project folder ({project})")
    parser.add_argument(
        "-C", dest="config", action="append", default=[], metavar="KEY=VALUE", help="a config setting of the build"
    )
    args = parser.parse_args(argv)
    config = dict(item.partition("=")[::2] for item in args.config)
    builder = project_builder()(args.project)
    # Environment markers (e.g. nanobind 2.12 for 3.9, 3.x for >= 3.10) are
    # evaluated by pip against this interpreter.
    pip_install(sorted(builder.build_system_requires))
    # The backend may ask for more (scikit-build-core: cmake/ninja from PyPI
    # when the image's are too old).
    pip_install(sorted(builder.get_requires_for_build("wheel", config or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
