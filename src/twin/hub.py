"""Hub bases: download one into twin's models folder, or find the copy already there.

`twin models --download ALIAS` fetches a catalog model with huggingface_hub's snapshot download:
a progress bar per file, and files left half-way by an interrupted download are resumed, not
restarted. Only the files a transformers model needs are fetched (weights as safetensors, never
pickled .bin/.pt files). Without hub access the error says so and how to bring a folder
downloaded elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from twin.errors import TwinError

# Weights as safetensors only: a pickled checkpoint could run code when loaded.
ALLOW = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.py", "*.jinja"]


def models_dir() -> Path:
    from twin.models import cache_dir

    return cache_dir() / "models"


def folder_for(hub_id: str) -> Path:
    return models_dir() / hub_id.replace("/", "--")


def downloaded_folder(hub_id: str) -> Path | None:
    """The complete downloaded copy of `hub_id`, if there is one (a model folder with weights)."""
    folder = folder_for(hub_id)
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    return None


def hub_reachable() -> bool:
    """Whether the hub may be used: not switched off, and huggingface_hub installed."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        return False
    return __import__("importlib").util.find_spec("huggingface_hub") is not None


def download(hub_id: str, snapshot: Callable | None = None) -> Path:
    """Download `hub_id` into twin's models folder (resuming a partial download); its path.

    `snapshot` is huggingface_hub.snapshot_download unless given (tests pass a fake hub).
    """
    from twin.models import bring_folder_hint

    target = folder_for(hub_id)
    if not hub_reachable():
        raise TwinError(
            f"cannot download {hub_id}: the Hugging Face hub is switched off here "
            f"(HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE=1).\n{bring_folder_hint(hub_id)}"
        )
    if snapshot is None:
        from huggingface_hub import snapshot_download as snapshot
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        snapshot(repo_id=hub_id, local_dir=str(target), allow_patterns=ALLOW)
    except KeyboardInterrupt:
        raise TwinError(
            f"download of {hub_id} interrupted; run the same command again to resume it"
        ) from None
    except Exception as e:  # the hub client raises many kinds: network, auth, gated, missing
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        gated = "gated" in str(e).lower() or "401" in str(e) or "403" in str(e)
        extra = (
            "\nThis model is gated: accept its terms on its hub page and log in "
            "(huggingface-cli login), then run this again."
            if gated
            else ""
        )
        raise TwinError(
            f"cannot download {hub_id} from the Hugging Face hub ({first}).{extra}\n"
            f"{bring_folder_hint(hub_id)}\nA partial download is kept and resumed next time."
        ) from e
    if downloaded_folder(hub_id) is None:
        raise TwinError(
            f"{hub_id}: the download holds no config.json or no .safetensors weights "
            "(twin loads safetensors only); bring a converted folder instead"
        )
    return target
