"""twin as a wheel, built from the twin that is running, so a notebook installs exactly it.

Two cases. From a source checkout (an editable install, or PYTHONPATH=src), the project's
pyproject.toml, README and src/ are copied to a temporary folder and built there with
`pip wheel --no-deps` (nothing is written into the checkout). From an installed wheel there is
no pyproject.toml: the installed package files are the source, and a pyproject.toml is written
from the installed metadata (version, dependencies, extras, the `twin` command), then built the
same way. Either way the wheel's twin files are compared with the running ones before use.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import twin
from twin.errors import TwinError

SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def package_dir() -> Path:
    """The folder of the running twin package."""
    return Path(twin.__file__).resolve().parent


def package_files(root: Path) -> dict[str, str]:
    """{path relative to the package's parent: sha256} of every file a wheel carries."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() or SKIP_DIRS & set(path.relative_to(root).parts):
            continue
        if path.suffix in SKIP_SUFFIXES:
            continue
        rel = f"{root.name}/{path.relative_to(root).as_posix()}"
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def package_digest(root: Path | None = None) -> str:
    """One hash over the package's files: the same in the wheel, the checkout and an install."""
    files = package_files(root or package_dir())
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def source_tree() -> Path | None:
    """The checkout the running twin comes from (…/src/twin with a pyproject.toml naming twin)."""
    pkg = package_dir()
    project = pkg.parent.parent
    pyproject = project / "pyproject.toml"
    if pkg.parent.name != "src" or not pyproject.is_file():
        return None
    if not re.search(r'^name\s*=\s*"twin"', pyproject.read_text(encoding="utf-8"), re.M):
        return None
    return project


def _copy_package(dest: Path) -> None:
    shutil.copytree(
        package_dir(),
        dest / "src" / "twin",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"),
    )


def _stage_checkout(project: Path, dest: Path) -> None:
    shutil.copy2(project / "pyproject.toml", dest / "pyproject.toml")
    for extra in ("README.md", "LICENSE"):
        if (project / extra).is_file():
            shutil.copy2(project / extra, dest / extra)
    _copy_package(dest)


def _installed_distribution():
    """The installed distribution whose files are the running twin, or None."""
    try:
        dist = importlib.metadata.distribution("twin")
    except importlib.metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file("twin/__init__.py"))).resolve()
    return dist if located == Path(twin.__file__).resolve() else None


def _toml(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def pyproject_from_metadata(dist) -> str:
    """A pyproject.toml that rebuilds an installed twin: name, version, requirements, extras,
    the `twin` command and every non-Python file of the package as package data."""
    meta = dist.metadata
    requires, extras = [], {}
    for req in dist.requires or []:
        m = re.search(r"""\s*(?:and\s+)?extra\s*==\s*['"]([^'"]+)['"]""", req)
        if not m:
            requires.append(req)
            continue
        rest = (req[: m.start()] + req[m.end() :]).strip()
        rest = re.sub(r";\s*$", "", rest).strip()
        rest = re.sub(r"\s+and\s*$", "", rest)
        extras.setdefault(m.group(1), []).append(rest)
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    data = sorted(
        {
            str(Path(p).relative_to("twin").parent.as_posix()) + "/*" + Path(p).suffix
            for p in package_files(package_dir())
            if not p.endswith(".py")
        }
    )
    lines = [
        "[build-system]",
        'requires = ["setuptools>=64"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {_toml(meta['Name'])}",
        f"version = {_toml(meta['Version'])}",
        f"description = {_toml(meta.get('Summary') or '')}",
        'readme = "README.md"',
        f"requires-python = {_toml(meta.get('Requires-Python') or '>=3.10')}",
        f"dependencies = {_toml(requires)}",
        "",
        "[project.optional-dependencies]",
        *(f"{_toml(k)} = {_toml(v)}" for k, v in sorted(extras.items())),
        "",
        "[project.scripts]",
        *(f"{_toml(k)} = {_toml(v)}" for k, v in sorted(scripts.items())),
        "",
        "[tool.setuptools.packages.find]",
        'where = ["src"]',
        "",
        "[tool.setuptools.package-data]",
        f"twin = {_toml(data)}",
        "",
    ]
    return "\n".join(lines)


def _stage_installed(dist, dest: Path) -> None:
    (dest / "pyproject.toml").write_text(pyproject_from_metadata(dist), encoding="utf-8")
    body = dist.read_text("METADATA") or ""
    readme = body.split("\n\n", 1)[1] if "\n\n" in body else "twin\n"
    (dest / "README.md").write_text(readme, encoding="utf-8")
    _copy_package(dest)


def _pip_wheel(staged: Path, out_dir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir)]
    if importlib.util.find_spec("setuptools") is not None:
        cmd.append("--no-build-isolation")  # works offline; the build backend is already here
    if importlib.util.find_spec("pip") is None:
        raise TwinError("building the twin wheel needs pip in this Python: python -m ensurepip")
    done = subprocess.run([*cmd, str(staged)], capture_output=True, text=True)
    wheels = sorted(out_dir.glob("twin-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise TwinError("could not build the twin wheel with pip:\n  " + "\n  ".join(detail))
    return wheels[0]


def check_wheel(wheel: Path) -> None:
    """The wheel's twin files are byte for byte the running twin's (else a TwinError)."""
    expected = package_files(package_dir())
    got = {}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("twin/") and not name.endswith("/"):
                got[name] = hashlib.sha256(z.read(name)).hexdigest()
    missing = sorted(set(expected) - set(got))
    changed = sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])
    if missing or changed:
        raise TwinError(
            f"{wheel.name}: does not hold the running twin "
            f"(missing {missing[:3]}, different {changed[:3]})"
        )


def build_wheel(out_dir: Path) -> Path:
    """Build the running twin into `out_dir`; returns the wheel's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="twin-wheel-") as tmp:
        staged, built = Path(tmp) / "src", Path(tmp) / "dist"
        staged.mkdir()
        project = source_tree()
        if project is not None:
            _stage_checkout(project, staged)
        else:
            dist = _installed_distribution()
            if dist is None:
                raise TwinError(
                    f"cannot build a wheel of twin: {package_dir()} is neither in a source "
                    "checkout (src/twin with pyproject.toml) nor an installed distribution"
                )
            _stage_installed(dist, staged)
        wheel = _pip_wheel(staged, built)
        check_wheel(wheel)
        target = out_dir / wheel.name
        shutil.copyfile(wheel, target)
    return target
