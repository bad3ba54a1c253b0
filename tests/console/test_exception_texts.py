"""The exceptions feed's zh/en texts keep up with the API: every action code the feed can answer
has a sentence in console/src/screens/actions.ts, and every exception kind is offered as a filter
with a label in both languages (console/src/i18n.ts)."""

import re

from api.models import ExceptionKind
from api.services.supervision.exceptions_feed.actions import ACTIONS
from tests.conftest import ROOT

SCREENS = ROOT / "console" / "src" / "screens"


def test_every_action_code_has_a_chinese_and_an_english_sentence():
    source = (SCREENS / "actions.ts").read_text()
    texts = source[source.index("const TEXTS"):source.index("const PROPOSALS")]
    entries = dict(re.findall(r"^  (\w+): \[\n(.*?)\],$", texts, re.M | re.S))
    assert set(entries) == set(ACTIONS)
    for code, pair in entries.items():
        assert pair.count("(i) =>") + pair.count("() =>") == 2, code  # zh, then en


def test_every_exception_kind_is_a_filter_with_both_labels():
    source = (SCREENS / "exceptions.ts").read_text()
    offered = re.search(r"const KINDS = \[(.*?)\];", source, re.S)[1]
    assert set(re.findall(r'"(\w+)"', offered)) == {k.value for k in ExceptionKind}
    labels = (ROOT / "console" / "src" / "i18n.ts").read_text()
    for kind in ExceptionKind:
        assert len(re.findall(rf"\bexc_{kind.value}: \"", labels)) == 2, kind
