"""The importer contract (twin.ingest.importer): every format module fulfils it, is checked
when imported, and the pipeline reads what the contract says instead of probing."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from twin.ingest import formats
from twin.ingest.formats import wechatmsg_csv
from twin.ingest.importer import ME_RULES, Importer, NearMissImporter, TableImporter, check


def test_every_format_is_an_importer():
    modules = formats.all_formats()
    assert [m.NAME for m in modules] == formats.names()
    for module in modules:
        assert isinstance(module, Importer), module.NAME
        assert module.ME in ME_RULES, module.NAME
        assert module.LABEL, module.NAME


def test_only_formats_with_a_column_reader_are_table_importers():
    tables = [m.NAME for m in formats.all_formats() if isinstance(m, TableImporter)]
    assert tables == [wechatmsg_csv.NAME]


def test_formats_that_name_a_missing_title_line_say_so_through_the_protocol():
    near = [m.NAME for m in formats.all_formats() if isinstance(m, NearMissImporter)]
    assert near == ["qq-txt", "line-txt"]


def test_a_module_missing_a_member_is_refused_by_name():
    module = types.ModuleType("twin.ingest.formats.halfdone")
    module.NAME, module.LABEL = "halfdone", "Half done"
    module.sniff = lambda head, source: False
    with pytest.raises(TypeError, match="lacks ME, parse"):
        check(module)
    module.ME, module.parse = "sometimes", lambda source, report: iter(())
    with pytest.raises(TypeError, match="ME must be one of"):
        check(module)
    module.ME = "--me"
    assert check(module) is module


def test_the_guess_across_chats_follows_the_me_rule(tmp_path):
    """A WeChat 4.0 folder (ME "--me or guess") without --me: the sender in every chat is me."""
    from twin.ingest.pipeline import ingest

    header = "消息ID,类型,发送人,时间,内容,备注,昵称,更多信息\n"
    for friend in ("小明", "小红"):
        folder = tmp_path / "聊天记录" / f"{friend}(wxid_{len(friend)}{ord(friend[1])})"
        folder.mkdir(parents=True)
        (folder / f"{friend}.csv").write_text(
            header
            + f"1,文本,{friend},2024-10-04 11:42:05,在吗,,,\n"
            + "2,文本,阿强,2024-10-04 11:43:05,在,,,\n",
            encoding="utf-8-sig",
        )
    result = ingest([str(tmp_path)])
    assert {r.me_rule.split(":")[0] for r in result.reports} == {"guessed"}
    assert sum(r.by_me for r in result.reports) == 2


PARSE = """
import sys
from twin.cli import build_parser
for verb in ("build", "ingest"):
    build_parser(verb).parse_args([verb, "x.csv"])
print(sorted(m for m in ("numpy", "pyarrow", "pandas", "matplotlib") if m in sys.modules))
"""


def test_parsing_the_options_of_build_and_ingest_loads_no_heavy_module():
    """`twin build --help` and a typo in an option answer without loading numpy or pyarrow:
    twin.ingest imports nothing, the importers are imported when a file is read."""
    r = subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_format_names_without_importing_the_importers():
    from twin.ingest.formats import all_formats, names

    assert names() == [m.NAME for m in all_formats()]


BUILD = """
import sys
from twin.cli import main
from twin.demo.command import sample_export
assert main(["build", str(sample_export()), "--name", "Mia", "-o", sys.argv[1], "--no-report"]) == 0
print("pandas" in sys.modules)
import pandas  # still importable by anything after the build
"""


def test_build_keeps_pyarrow_from_importing_pandas(tmp_path):
    """pyarrow imports pandas on its first conversion (~0.4 s of a million-message build) only
    to recognise pandas objects; the CLI's build tells it pandas is absent (twin.ingest.no_pandas)
    and pandas itself stays importable."""
    code = [sys.executable, "-c", BUILD, str(tmp_path / "ds")]
    r = subprocess.run(code, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"
