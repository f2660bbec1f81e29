"""Where the notebook finds its bundle and where it writes; copied verbatim into the notebook.

It runs before twin is installed there, so it uses the standard library only. The bundle is
recognised by its `twin_bundle.json` and the id the notebook was written with, wherever the
platform put it: Kaggle unpacks an uploaded zip under /kaggle/input/<slug>/ (perhaps one folder
deeper), Colab gets it from Google Drive or an upload. TWIN_NOTEBOOK_INPUT and
TWIN_NOTEBOOK_WORKING move both places (tests run the notebook this way), and the run always
lands at <working>/run. No `from __future__` import: the source must run as a notebook cell.
"""

import json
import os
import zipfile
from pathlib import Path

BUNDLE_FILE = "twin_bundle.json"

UPLOAD_HELP = {
    "kaggle": (
        "Upload {name}.zip (written next to this notebook by `twin notebook`) as a Kaggle"
        " Dataset: kaggle.com -> Datasets -> New Dataset -> drop the zip, keep it Private -> Create."
        " Then in this notebook: right-hand panel -> Add Input -> Your Datasets -> {name}.\n"
        "把 `twin notebook` 生成的 {name}.zip 上传为 Kaggle 数据集（Datasets -> New Dataset，保持"
        " Private），然后在本笔记本右侧面板 Add Input -> Your Datasets 里添加它。"
    ),
    "colab": (
        "Put {name}.zip (written next to this notebook by `twin notebook`) in your Google Drive"
        " (My Drive), or upload it when this cell asks.\n"
        "把 {name}.zip 放进 Google Drive（我的云端硬盘），或者在本单元格提示时上传。"
    ),
}


class BundleNotFound(Exception):
    """The notebook's bundle is not where it should be; the message says how to attach it."""


def read_bundle(folder):
    """The bundle description in `folder`, or None when there is none."""
    path = Path(folder) / BUNDLE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def extract(zip_path, target):
    """Unpack a bundle zip into `target` (zipfile drops absolute paths and '..' parts)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(target)
    return target


def search(roots, bundle_id, max_depth=4):
    """(folders holding this bundle, ids of other bundles seen) under the roots.

    A bundle zip that the platform left packed is unpacked next to the working folder's parent
    temp area (`/tmp/twin-bundle-<id>`), since inputs are read-only on Kaggle.
    """
    found, others = [], []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        base_depth = len(root.parts)
        for folder, dirs, files in os.walk(root):
            depth = len(Path(folder).parts) - base_depth
            if depth >= max_depth:
                dirs[:] = []
            dirs.sort()
            if BUNDLE_FILE in files:
                info = read_bundle(folder) or {}
                if info.get("bundle_id") == bundle_id:
                    found.append(Path(folder))
                else:
                    others.append(str(info.get("bundle_id")))
            for f in sorted(files):
                if f.endswith(".zip") and _zip_holds(Path(folder) / f, bundle_id):
                    unpacked = extract(Path(folder) / f, Path("/tmp") / f"twin-bundle-{bundle_id}")
                    found.extend(search([unpacked], bundle_id)[0])
    return found, others


def _zip_holds(path, bundle_id):
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.rstrip("/").split("/")[-1] == BUNDLE_FILE]
            return any(json.loads(z.read(n)).get("bundle_id") == bundle_id for n in names[:3])
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def not_found(name, bundle_id, target, roots, others):
    """The BundleNotFound for this platform, naming where it looked and what it saw."""
    where = ", ".join(str(r) for r in roots)
    seen = ""
    if others:
        seen = (
            f" Found other twin bundles ({', '.join(others)}), but this notebook was written with"
            f" bundle {bundle_id}: upload the zip that was written with this notebook."
        )
    return BundleNotFound(
        f"The bundle {name}.zip (id {bundle_id}) was not found under {where}.{seen}\n"
        + UPLOAD_HELP.get(target, UPLOAD_HELP["kaggle"]).format(name=name)
    )


def kaggle_paths(name, bundle_id, environ=None):
    """(bundle folder, working folder) on Kaggle, or as TWIN_NOTEBOOK_INPUT/WORKING say."""
    env = os.environ if environ is None else environ
    working = Path(env.get("TWIN_NOTEBOOK_WORKING") or "/kaggle/working")
    given = env.get("TWIN_NOTEBOOK_INPUT")
    roots = [Path(given)] if given else [Path("/kaggle/input") / name, Path("/kaggle/input")]
    found, others = search(roots, bundle_id)
    if not found:
        raise not_found(name, bundle_id, "kaggle", roots, others)
    return found[0], working


def colab_paths(name, bundle_id, environ=None, use_drive=True):
    """(bundle folder, working folder) on Colab: from TWIN_NOTEBOOK_INPUT, an unpacked copy in
    /content, Google Drive (mounted when `use_drive`), or an upload. With Drive, the working
    folder is on Drive, so checkpoints outlive a disconnected session."""
    env = os.environ if environ is None else environ
    given = env.get("TWIN_NOTEBOOK_INPUT")
    drive = Path("/content/drive/MyDrive")
    if given:
        roots = [Path(given)]
    else:
        if use_drive and not drive.is_dir():
            from google.colab import drive as colab_drive

            colab_drive.mount("/content/drive")
        roots = [Path("/content") / name, Path("/tmp") / f"twin-bundle-{bundle_id}"]
        if drive.is_dir():
            roots.append(drive)
    found, others = search(roots, bundle_id, max_depth=3)
    if not found and not given:
        from google.colab import files

        print(f"Upload {name}.zip / 上传 {name}.zip:")
        for upload in files.upload():
            if upload.endswith(".zip"):
                extract(upload, Path("/content") / name)
        found, others = search([Path("/content") / name], bundle_id)
    if not found:
        raise not_found(name, bundle_id, "colab", roots, others)
    default_working = drive / "twin" / name if drive.is_dir() else Path("/content/twin-working")
    working = Path(env.get("TWIN_NOTEBOOK_WORKING") or default_working)
    return found[0], working
