"""The escalation ladder's data (data/escalation_ladder.json, issue 16 item 3) loads and validates:
every step's evidence kinds are the evidence domain's, every regulator it names is in the seeded
registry, every text it shows is in both catalogs, and every time window with a number cites
where it was read. Broken files are refused when loaded."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from chorus import i18n
from chorus.evidence.service import KINDS
from chorus.ladder import steps as ladder
from chorus.regulators.service import SEED_FILE


def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ladder.DATA_FILE.read_text(encoding="utf-8"))
    return data


def test_the_packaged_ladder_loads_seeded_for_china_with_an_english_example() -> None:
    d = ladder.data()
    assert d.version >= 1 and d.default == "cn"
    cn, uk = d.sets["cn"], d.sets["uk-example"]
    assert not cn.example and uk.example
    assert cn.steps[0].stage == "merchant" and cn.steps[-1].stage == "court"
    assert {s.stage for s in cn.steps} == set(ladder.STAGES)
    # a direct transfer is not a trade dispute: no payment provider's complaint on its path
    stages = {s.id: s.stage for s in ladder.steps_for("transfer", "taobao", "cn")}
    assert "cn-alipay" not in stages and "cn-wechatpay" not in stages and "cn-card" not in stages
    assert "cn-transfer" in stages and "cn-police" in stages
    assert [s.id for s in ladder.steps_for("wechat_pay", "xianyu")] == [
        "cn-merchant",
        "cn-xianyu",
        "cn-wechatpay",
        "cn-12315",
        "cn-police",
        "cn-court",
    ]


def test_evidence_kinds_and_regulators_are_the_other_domains_own() -> None:
    assert set(ladder.EVIDENCE_KINDS) == set(KINDS)
    seeded = {r["slug"] for r in json.loads(SEED_FILE.read_text(encoding="utf-8"))}
    for ladder_set in ladder.data().sets.values():
        for s in ladder_set.steps:
            assert set(s.evidence) <= set(KINDS), s.id
            assert s.regulator is None or s.regulator in seeded, s.id
    assert ladder.find_step("cn-12315").regulator == "cn-12315"  # type: ignore[union-attr]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_text_the_ladder_shows_is_in_the_catalog(locale: str) -> None:
    catalog = i18n.catalog(locale)
    for ladder_set in ladder.data().sets.values():
        for value in ladder_set.paid_with:
            assert f"page.ladder.paid_with.{value}" in catalog
        for value in ladder_set.bought_on:
            assert f"page.ladder.bought_on.{value}" in catalog
        for s in ladder_set.steps:
            assert f"page.ladder.step.{s.text_key}.title" in catalog, s.id
            assert f"page.ladder.step.{s.text_key}.what" in catalog, s.id
            assert f"page.ladder.stage.{s.stage}" in catalog
            for key in s.also:
                assert f"page.ladder.also.{key}" in catalog, key
            for w in s.windows:
                assert f"page.ladder.window.starts.{w.starts}" in catalog
                assert w.unit is None or f"page.ladder.window.unit.{w.unit}" in catalog


def test_every_time_window_with_a_number_cites_its_source() -> None:
    windows = [w for st in ladder.data().sets.values() for s in st.steps for w in s.windows]
    numbered = [w for w in windows if w.limit is not None]
    assert numbered, "the court's limitation periods are recorded"
    for w in numbered:
        assert w.source_url and w.source_url.startswith(("http://", "https://"))
        assert w.text_excerpt and w.rule and w.unit
    for w in windows:
        if w.limit is None:
            assert not w.confirmed and w.note  # not found: said, never a number
    # 12315's three years end with the rule that set them; the new rule's is not invented
    step = ladder.find_step("cn-12315")
    assert step is not None
    assert step.window_on(date(2025, 6, 1)).limit == 3  # type: ignore[union-attr]
    assert step.window_on(date(2026, 6, 1)).limit is None  # type: ignore[union-attr]


def _broken(change: Any) -> str:
    data = raw()
    change(data)
    return json.dumps(data, ensure_ascii=False)


def _cn_step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in data["sets"]["cn"]["steps"] if s["id"] == step_id)
    return step


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda d: _cn_step(d, "cn-alipay")["windows"][0].update(limit=30, unit="days"),
            id="number-no-source",
        ),
        pytest.param(
            lambda d: _cn_step(d, "cn-court")["windows"][0].update(source_url=None), id="limit-without-source"
        ),
        pytest.param(
            lambda d: _cn_step(d, "cn-alipay")["windows"][0].update(confirmed=True),
            id="confirmed-without-number",
        ),
        pytest.param(
            lambda d: _cn_step(d, "cn-12315")["windows"][1].update(valid_from="2026-01-01"),
            id="windows-overlap",
        ),
        pytest.param(lambda d: _cn_step(d, "cn-merchant").update(evidence=["selfie"]), id="unknown-evidence"),
        pytest.param(
            lambda d: _cn_step(d, "cn-alipay").update(applies={"paid_with": ["bitcoin"]}),
            id="unknown-paid-with",
        ),
        pytest.param(lambda d: _cn_step(d, "cn-alipay").update(stage="court"), id="out-of-order"),
        pytest.param(lambda d: _cn_step(d, "cn-police").update(id="cn-merchant"), id="duplicate-id"),
        pytest.param(
            lambda d: _cn_step(d, "cn-merchant").update(link="http://insecure.example/"), id="link-not-https"
        ),
        pytest.param(
            lambda d: d["sets"]["cn"]["shop_platforms"].update(pdd="temu"), id="shop-platform-unknown"
        ),
        pytest.param(
            lambda d: d["sets"]["cn"]["payee_kinds"].update(alipay="huabei"), id="payee-kind-unknown"
        ),
        pytest.param(lambda d: d.update(default="uk-example"), id="default-is-an-example"),
        pytest.param(lambda d: d.update(default="mars"), id="default-names-no-set"),
        pytest.param(lambda d: _cn_step(d, "cn-merchant").update(surprise=1), id="unknown-field"),
    ],
)
def test_a_broken_ladder_file_is_refused_when_loaded(change: Any) -> None:
    with pytest.raises(ValidationError):
        ladder.load(_broken(change))


def test_the_file_as_shipped_validates_again_from_its_text() -> None:
    assert ladder.load(ladder.DATA_FILE.read_text(encoding="utf-8")) == ladder.data()


def test_a_reported_shop_link_says_where_the_member_bought() -> None:
    shop = {"kind": "shop", "value": "pdd:123"}
    assert ladder.suggested([{"kind": "qq", "value": "1"}, shop]).bought_on == "pinduoduo"
    assert ladder.suggested([{"kind": "shop", "value": "tmallhk:x"}]).bought_on == "tmall"
    assert ladder.suggested([{"kind": "shop", "value": "weidian:9"}]).bought_on is None  # not offered
    assert ladder.suggested([{"kind": "shop", "value": "shop.example.com/x"}]).bought_on is None
    assert ladder.suggested([]) == (None, None)


def test_a_reported_account_paid_into_says_how_the_member_paid() -> None:
    alipay = {"kind": "alipay", "value": "+8613800138000"}
    card = {"kind": "bank_card", "value": "6222020200112233445"}
    shop = {"kind": "shop", "value": "taobao:104857611"}
    assert ladder.suggested([{"kind": "qq", "value": "1"}, alipay, shop]) == ("transfer", "taobao")
    assert ladder.suggested([card]) == ("transfer", None)
    # a WeChat or QQ id is how they talked, not how they paid: nothing is suggested
    assert ladder.suggested([{"kind": "wechat", "value": "xcka"}, {"kind": "qq", "value": "1"}]) == (
        None,
        None,
    )
    assert ladder.suggested([alipay], "uk-example") == (None, None)  # a set that maps no kind
