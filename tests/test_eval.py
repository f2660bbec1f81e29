"""`twin eval` on the tiny trained run: a run, one of its checkpoints and the base, compared."""

from __future__ import annotations

import json
import shutil

import pytest

from twin.eval.evaluate import METRICS, pick_samples
from twin.eval.privacy import PROBES
from twin.eval.report import render_html

KEYS = [k for k, _, _, _ in METRICS]


@pytest.fixture(scope="module")
def evaluated(tiny_run, tiny_dataset, tmp_path_factory):
    """One full evaluation (run + checkpoint + base), shared by the tests below."""
    from twin.cli import main

    out = tmp_path_factory.mktemp("eval")
    checkpoint = tiny_run / "checkpoints" / "step-4"
    code = main(
        [
            "eval",
            str(tiny_run),
            str(checkpoint),
            "--data",
            str(tiny_dataset),
            "--samples",
            "4",
            "--max-new-tokens",
            "8",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    return out, report, checkpoint


def test_both_files_with_every_metric_for_every_system(evaluated, tiny_run):
    out, report, checkpoint = evaluated
    assert (out / "eval.html").is_file()
    kinds = [s["kind"] for s in report["systems"]]
    assert kinds == ["run", "checkpoint", "base"]
    assert report["systems"][1]["path"] == str(checkpoint)
    for s in report["systems"]:
        for key in KEYS:
            assert isinstance(s[key], int | float), (s["label"], key)
        assert s["dev_ppl"] > 1
        assert set(s["style"]) == {"distance", "length", "habits", "phrases"}
        assert set(s["fingerprint"]) >= {"length_bins", "habits", "phrases"}
        assert s["privacy"]["prompts"] == len(PROBES)
        assert len(s["privacy"]["replies"]) == len(PROBES)
    assert set(report["person"]) == {"distinct1", "distinct2", "fingerprint"}
    assert report["sample_count"] == 4 and len(report["samples"]) == 4
    labels = [s["label"] for s in report["systems"]]
    for sample in report["samples"]:
        assert sample["prompt"] and sample["reference"]
        assert list(sample["replies"]) == labels
    for key, winners in report["best"].items():
        assert key in KEYS and set(winners) <= set(labels)


def test_dev_loss_is_the_training_dev_loss(evaluated, tiny_run):
    """The same samples, rendering, mask and loss code as training (which used bf16 autocast)."""
    _, report, _ = evaluated
    trained = json.loads((tiny_run / "twin_run.json").read_text(encoding="utf-8"))
    assert report["systems"][0]["dev_loss"] == pytest.approx(
        trained["result"]["best_dev_loss"], rel=2e-2
    )
    # training moved the model towards the data: the base is further from it
    assert report["systems"][2]["dev_loss"] > report["systems"][0]["dev_loss"]


def test_html_shows_table_samples_and_probe(evaluated):
    out, report, _ = evaluated
    page = (out / "eval.html").read_text(encoding="utf-8")
    for s in report["systems"]:
        assert s["label"] in page
    for m in METRICS:
        assert m[1] in page
    assert "★" in page or not report["best"]
    assert report["samples"][0]["reference"] in page
    assert PROBES[0][2].replace("'", "&#x27;") in page
    assert "<script" not in page and "http" not in page.replace(report["dataset"], "")


def test_summary_printed(evaluated, tiny_run, capsys):
    from twin.eval.report import summary_table

    _, report, _ = evaluated
    table = summary_table(report)
    assert "BLEU-4" in table and "your replies" in table
    assert len(table.splitlines()) == 2 + len(report["systems"]) + 2


def test_same_seed_same_prompts_and_replies(twin, tiny_run, tiny_dataset, tmp_path):
    args = ["eval", tiny_run, "--data", tiny_dataset, "--samples", "3", "--max-new-tokens", "6"]
    args += ["--base-model", "none", "--no-privacy", "--temperature", "1.0"]
    reports = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        r = twin(*args, "--seed", seed, "-o", tmp_path / name)
        assert r.code == 0, r.err
        assert "BLEU-4" in r.out and "eval.html" in r.out
        reports.append(json.loads((tmp_path / name / "eval.json").read_text(encoding="utf-8")))
    a, b, c = reports
    assert a["samples"] == b["samples"]
    assert [s["kind"] for s in a["systems"]] == ["run"]
    assert "privacy" not in a["systems"][0] and "pii_replies" not in a["best"]
    assert [s["prompt"] for s in a["samples"]] != [s["prompt"] for s in c["samples"]] or [
        s["replies"] for s in a["samples"]
    ] != [s["replies"] for s in c["samples"]]


def test_pick_samples_is_seeded():
    dev = [
        [
            {"role": "system", "content": "s"},
            {"role": "user", "content": f"q{i}"},
            {"role": "assistant", "content": f"a{i}"},
            {"role": "user", "content": f"r{i}"},
            {"role": "assistant", "content": f"b{i}"},
        ]
        for i in range(10)
    ]
    one, two = pick_samples(dev, 5, 1), pick_samples(dev, 5, 1)
    assert one == two and len(one) == 5
    assert pick_samples(dev, 5, 2) != one
    for s in one:
        assert s["history"][-1]["role"] == "user"
        assert all(m["role"] != "system" for m in s["history"])
        assert s["reference"] == dev[s["conversation"]][s["turn"]]["content"]
    assert len(pick_samples(dev, 100, 0)) == 20  # every reply, no more


def test_html_escapes_replies(evaluated):
    _, report, _ = evaluated
    fake = json.loads(json.dumps(report))
    fake["samples"][0]["replies"][fake["systems"][0]["label"]] = "<script>alert(1)</script>"
    page = render_html(fake)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_errors_are_friendly(twin, tiny_run, tiny_dataset, tmp_path):
    r = twin("eval", tmp_path, "--data", tiny_dataset)
    assert r.code == 1 and "not a twin run" in r.err
    no_dev = tmp_path / "nodev"
    shutil.copytree(tiny_dataset, no_dev)
    (no_dev / "dev.jsonl").unlink()
    r = twin("eval", tiny_run, "--data", no_dev)
    assert r.code == 1 and "dev.jsonl: missing or empty" in r.err
    r = twin("eval", tiny_run, tiny_run, "--data", tiny_dataset)
    assert r.code == 1 and "listed twice" in r.err
    assert "Traceback" not in r.err


def test_written_report_passes_the_build_redaction(monkeypatch, tiny_run, tiny_dataset, tmp_path):
    """eval.json and eval.html show the model's replies redacted (issue 17 item 9); the scores
    are computed on the replies as generated."""
    from twin.eval import evaluate as ev

    leaks = ["call me at 13912345678", "mail bob@example.org", "my id is wxid_leakedid99"]
    real = ev.evaluate_system
    scored = []

    def planted(*args, **kwargs):
        result = real(*args, **kwargs)
        result["replies"] = [leaks[i % 3] for i in range(len(result["replies"]))]
        scored.append(list(result["replies"]))
        return result

    monkeypatch.setattr(ev, "evaluate_system", planted)
    out = tmp_path / "eval"
    report = ev.run_eval(
        [str(tiny_run)], str(tiny_dataset), str(out), samples=3, max_new_tokens=4, probe=False
    )
    assert scored and scored[0][0] == leaks[0]
    for name in ("eval.json", "eval.html"):
        page = (out / name).read_text(encoding="utf-8")
        for secret in ("13912345678", "bob@example.org", "wxid_leakedid99"):
            assert secret not in page, (name, secret)
        assert "&lt;PHONE&gt;" in page or "<PHONE>" in page
    replies = [r for s in report["samples"] for r in s["replies"].values()]
    assert "call me at <PHONE>" in replies
