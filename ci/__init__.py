"""The project's tooling; run modules as `python -m ci.<package>.<module>` from the repository root.

`ci.factory` makes and tests the wheels and the release, `ci.bench` measures, `ci.checks` holds
the checks beside the test suite (every kernel path, sanitizers, fuzzing), `ci.tools` the
developer's helpers. `noxfile.py` drives them, one session per task; ARCHITECTURE.md has the table.
"""
