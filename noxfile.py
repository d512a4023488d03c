"""CI sessions: the suite on every supported Python, once on the lowest allowed dependencies.

    nox                  # every session
    nox -s tests-3.13    # the suite on one Python
    nox -s lowest        # the suite on 3.10 with the lowest versions pyproject.toml allows
    nox -s lint typecheck

Interpreters are found on the PATH or through pyenv and never downloaded; a missing one fails
the run instead of being skipped. Environments are made by uv, from PyPI.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

nox.needs_version = ">=2025.10.14"  # download_python
nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests", "lowest"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# The SDK's own dependencies, pinned to their floors by the `lowest` session.
FLOORED = ["aiohttp", "attrs", "cattrs", "backoff", "orjson"]


def _add_pyenv_pythons() -> None:
    """Append pyenv's newest X.Y.Z of each of PYTHONS to the PATH, where nox looks for them.

    pyenv's shims answer only for the active version, so 3.10 and the rest are invisible to
    nox otherwise. An interpreter already on the PATH comes first.
    """
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for python in PYTHONS:
        patches = [
            (int(match[1]), folder / "bin")
            for folder in versions.glob(f"{python}.*")
            if (match := re.fullmatch(re.escape(python) + r"\.(\d+)", folder.name))
        ]
        if patches:
            found.append(str(max(patches)[1]))
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *found])


_add_pyenv_pythons()


def _dev_requirement(name: str) -> str:
    """The requirement on ``name`` in pyproject's ``dev`` extra (one version range for all)."""
    extra = nox.project.load_toml("pyproject.toml")["project"]["optional-dependencies"]["dev"]
    found = [r for r in extra if r.split(">")[0].split("=")[0].strip() == name]
    if len(found) != 1:
        raise ValueError(f"pyproject.toml's dev extra names {name!r} {len(found)} times")
    return str(found[0])


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, as the README runs it."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The suite with each runtime dependency at the lowest version pyproject.toml allows."""
    floors = f"{session.create_tmp()}/floors.txt"
    # lowest-direct: the project's own requirements at their floors, what they pull in at
    # the newest versions that fit (as a user who pins only our floors would get).
    session.run(
        "uv", "pip", "compile", "pyproject.toml", "--quiet", "--resolution", "lowest-direct",
        "--python", f"{session.bin}/python", "--output-file", floors,
    )  # fmt: skip
    session.install("-e", ".[test]", "--constraint", floors)
    show = f"import importlib.metadata as m; print(*[n + ' ' + m.version(n) for n in {FLOORED}])"
    session.run("python", "-c", show)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's lint rules and formatting."""
    session.install(_dev_requirement("ruff"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[1])
def typecheck(session: nox.Session) -> None:
    """mypy --strict (configured in pyproject.toml) over the SDK, tests and benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", *session.posargs)
