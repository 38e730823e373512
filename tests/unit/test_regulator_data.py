"""The shipped regulator registry (data/regulators.json, issue 18 item 9) as data: every entry
validates as a regulator an admin could add, names where its facts were read (sources; what was
not confirmed from a source read says so), the Chinese channels are ones a person uses by hand
(channel manual), a bureau is reached through 12315, and every complaint template kind an entry
uses has its template and its texts in both catalogs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from chorus import i18n
from chorus.regulators.schemas import RegulatorCreate, RegulatorSource, TemplateKind
from chorus.regulators.service import SEED_FILE, sources_of

TEMPLATES = Path(SEED_FILE).resolve().parent.parent / "templates" / "complaints"


def entries() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return data


def test_every_entry_is_a_valid_regulator_with_its_sources() -> None:
    slugs = [e["slug"] for e in entries()]
    assert len(slugs) == len(set(slugs))
    for e in entries():
        fields = {k: v for k, v in e.items() if k in RegulatorCreate.model_fields}
        fields.pop("routed_by", None)
        fields.pop("time_limits", None)
        RegulatorCreate.model_validate(fields)
        sources = [RegulatorSource.model_validate(s) for s in e.get("sources", [])]
        assert sources, f"{e['slug']} names no source"
        for s in sources:
            # a fact not confirmed from a source read is marked so, in words as well
            assert s.confirmed or s.note.startswith("NOT CONFIRMED"), (e["slug"], s.title)
        assert sources_of(e["slug"]) == sources
    assert sources_of("r-added-by-an-admin") == []


def test_the_chinese_channels_are_used_by_hand_and_bureaus_go_through_12315() -> None:
    by_slug = {e["slug"]: e for e in entries()}
    for e in entries():
        if e["locale"] == "zh-CN":
            assert e["channel"] == "manual", e["slug"]
        if e.get("routed_by"):
            channel = by_slug[e["routed_by"]]
            assert channel["slug"] == "cn-12315" and not channel.get("routed_by")
            assert e["template_kind"] == "samr"
    kinds = {e["template_kind"] for e in entries()}
    assert {"consumer_association", "payment_platform", "marketplace", "hotline", "police", "samr"} <= kinds
    # the phone numbers a member needs are in the notes (the hotlines, and where not to report)
    notes = {e["slug"]: e["note"] for e in entries()}
    assert "95188" in notes["cn-alipay-disputes"] and "95017" in notes["cn-wechatpay-disputes"]
    assert "95516" in by_slug["cn-unionpay-disputes"]["address"]
    assert "受案回执" in notes["cn-police-antifraud"] and "不是报案渠道" in notes["cn-police-antifraud"]
    for slug in ("cn-alipay-disputes", "cn-wechatpay-disputes", "cn-unionpay-disputes"):
        assert "直接转账不是交易纠纷" in notes[slug], slug


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_template_kind_has_its_template_and_texts(locale: str) -> None:
    catalog = i18n.catalog(locale)
    for kind in get_args(TemplateKind):
        assert f"page.admin.template_kind.{kind}" in catalog, kind
        assert (TEMPLATES / locale / f"{kind}.md.j2").exists(), kind
    for code in ("refund", "investigation", "takedown"):
        assert f"complaint.demand.marketplace.{code}" in catalog
