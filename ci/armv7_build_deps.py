"""before-build for armv7l: install the project's build requirements into the
image's /opt/python venv, so the wheel is built without build isolation.

Why: an isolated build puts nanobind's sources under a fresh random temporary
folder each time, and ccache then never hits on them. Installed here they sit
at one fixed path per image, and a second build is mostly cache hits.

    python ci/armv7_build_deps.py PROJECT_DIR [-C key=value ...]
"""

from __future__ import annotations

import subprocess
import sys


def pip_install(requirements: list[str]) -> None:
    if requirements:
        print("[armv7-build-deps] pip install " + " ".join(requirements), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", *requirements], check=True)


def main(argv: list[str]) -> int:
    try:
        import build
    except ImportError:  # an image whose interpreters lack pypa/build
        pip_install(["build"])
        import build

    project = argv[0]
    config = {}
    for item in argv[1:]:
        if item.startswith("-C"):
            key, _, value = item[2:].partition("=")
            config[key] = value
    builder = build.ProjectBuilder(project)
    # Environment markers (e.g. nanobind 2.12 for 3.9, 3.x for >= 3.10) are
    # evaluated by pip against this interpreter.
    pip_install(sorted(builder.build_system_requires))
    # The backend may ask for more (scikit-build-core: cmake/ninja from PyPI
    # when the image's are too old).
    pip_install(sorted(builder.get_requires_for_build("wheel", config or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
