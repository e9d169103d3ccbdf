"""A fresh venv holding revive's core requirement set and nothing else, without downloading torch.

Installing torch from PyPI into a fresh venv fetches about 4 GB (torch plus its CUDA libraries)
and unpacks it, minutes of network and disk on every test run. The test venv (``make install``)
already holds those exact distributions, so :func:`make_core_venv` resolves the core
requirements of ``pyproject.toml`` (``[project].dependencies``, markers evaluated, no extras)
to their transitive closure among the installed distributions and hard-links only the files
those distributions' RECORDs list into a new venv's site-packages (real folders, so nothing
done in it can reach the full venv's files). Everything else installed here
(gradio, onnx, spandrel, timm, torchvision, pytest ...) is absent from it, so an import of an
extra from core code fails there just as it would after ``pip install revive``. revive itself
is then installed by pip from the checkout, with ``--no-deps``, and ``pip check`` confirms that
the closure satisfies every requirement.

Run it by hand to see the closure and its size: ``python -m tests.core_venv /tmp/core``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent


def project_requirements(extras: Iterable[str] = ()) -> list[Requirement]:
    """``[project].dependencies`` of pyproject.toml, plus those of the named extras."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    env = default_environment()
    return any(requirement.marker.evaluate({**env, "extra": extra}) for extra in ("", *extras))


def closure(requirements: Iterable[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively, by canonical name.

    Raises ``LookupError`` naming a requirement that is not installed, or installed in a version
    it does not allow: the venv this runs in must hold the full install (``make install``).
    """
    found: dict[str, metadata.Distribution] = {}
    todo = [(r, frozenset(r.extras)) for r in requirements]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in done:
            continue
        done.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise LookupError(f"{requirement} is not installed here") from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise LookupError(f"{requirement} is not met by the installed {dist.version}")
        found[name] = dist
        for line in dist.requires or []:
            sub = Requirement(line)
            if _applies(sub, extras):
                todo.append((sub, frozenset(sub.extras)))
    return found


def _owners(dists: Iterable[metadata.Distribution], site: Path) -> dict[PurePosixPath, set[str]]:
    """Every path prefix under ``site`` that an installed distribution's RECORD lists -> owners."""
    owners: dict[PurePosixPath, set[str]] = {}
    for dist in dists:
        base = Path(str(dist.locate_file("")))
        if base.resolve() != site.resolve():
            continue
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or []:
            path = PurePosixPath(file.as_posix())
            if path.parts and path.parts[0] == "..":
                continue  # console scripts in bin/: the core venv gets revive's own from pip
            for i in range(1, len(path.parts) + 1):
                owners.setdefault(PurePosixPath(*path.parts[:i]), set()).add(name)
    return owners


def _link(source: Path, target: Path, rel: PurePosixPath, owners, keep: set[str]) -> None:
    """Link ``rel``'s entries owned only by ``keep``; recurse where other distributions share."""
    for entry in sorted(source.joinpath(rel).iterdir()):
        sub = rel / entry.name
        who = owners.get(sub, set())
        if not who & keep:
            continue
        if who <= keep or not entry.is_dir():
            _mirror(entry, target.joinpath(sub))
        else:  # a namespace folder (google/, nvidia/ ...) shared with distributions left out
            target.joinpath(sub).mkdir()
            _link(source, target, sub, owners, keep)


def _mirror(source: Path, dest: Path) -> None:
    """Real folders, and hard links to the files (a copy across file systems), never a link to a
    folder of the full venv: whatever a test or pip later deletes in the core venv, it cannot
    delete the full venv's files through it."""
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
    elif source.is_dir():
        dest.mkdir()
        for child in source.iterdir():
            _mirror(child, dest / child.name)
    else:
        try:
            os.link(source, dest)
        except OSError:
            shutil.copy2(source, dest)


def make_core_venv(where: Path, extras: Iterable[str] = ()) -> dict[str, metadata.Distribution]:
    """A venv at ``where`` with revive installed and only its core (plus ``extras``) closure.

    Returns the closure. The venv's python is ``where/bin/python``; its scripts are in bin/.
    """
    extras = tuple(extras)
    keep = closure(project_requirements(extras))
    venv.EnvBuilder(with_pip=False).create(where)
    site = Path(sysconfig.get_paths()["purelib"])
    fresh = Path(sysconfig.get_paths(vars={"base": str(where), "platbase": str(where)})["purelib"])
    owners = _owners(metadata.distributions(path=[str(site)]), site)
    _link(site, fresh, PurePosixPath(), owners, set(keep))
    pip = [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python")]
    spec = f"{REPO}[{','.join(extras)}]" if extras else str(REPO)
    subprocess.run([*pip, "install", "-q", "--no-deps", spec], check=True, capture_output=True)
    checked = subprocess.run([*pip, "check"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise RuntimeError(f"the core venv's requirements are not met: {checked.stdout}")
    return keep


def size_bytes(where: Path) -> int:
    """Bytes of the files in ``where``, following links (what a real install would write).

    Each file counts once, however many links reach it (as ``du -L``).
    """
    total, seen = 0, set()
    for root, _dirs, files in os.walk(where, followlinks=True):
        for name in files:
            path = Path(root, name)
            if path.is_file():
                stat = path.stat()
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_size
    return total


if __name__ == "__main__":
    target = Path(sys.argv[1])
    dists = make_core_venv(target, sys.argv[2:])
    print(" ".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in dists.values())))
    print(f"{len(dists)} distributions, {size_bytes(target) / 2**30:.2f} GiB at {target}")
