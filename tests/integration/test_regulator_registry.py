"""The regulator registry an admin keeps (issue 18 item 8): a regulator deactivated
(PATCH /api/v1/regulators/{id} ``{active: false}``) is offered for no new complaint while the
filings already made keep it; every change audited; refusals (401, 403, 404, 422) write nothing;
corrections to the shipped data/regulators.json reach an install at `chorus migrate`
(regulators.service.sync_shipped) except the fields an admin changed, also on a regulator edited
before such changes were recorded (read from the audit log). Real database, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.errors import Conflict
from chorus.regulators import service
from chorus.regulators.tables import Regulator
from tests.integration.cases_support import fields_of, staff
from tests.integration.test_filings import build, filed_v1
from tests.support import assert_problem, verified_user

pytestmark = pytest.mark.usefixtures("clean")

REGULATORS = "/api/v1/regulators"
ADMIN_LIST = "/api/v1/admin/regulators"


async def row(slug: str) -> dict[str, Any]:
    found = await Regulator.select().where(Regulator.slug == slug).first()
    assert found is not None
    return dict(found)


async def audits(action: str) -> list[dict[str, Any]]:
    rows = (
        await AuditEntry.select()
        .where(AuditEntry.action == action)
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    return [dict(r) for r in rows]


async def test_a_deactivated_regulator_is_not_offered_but_its_filings_go_on(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s, reg, _, filing = await filed_v1(client, mailbox, worker)
    admin = await staff(client, settings, "admin@example.com", "admin")

    r = await client.patch(f"{REGULATORS}/{reg}", json={"active": False}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    (entry,) = await audits("regulator.deactivated")
    assert (entry["actor_id"], entry["object_id"], entry["data"]["fields"]) == (admin.id, reg, ["active"])

    # not offered: not on the public list, not on the build form, no new version, no filing
    assert reg not in [x["id"] for x in (await client.get(REGULATORS)).json()["items"]]
    listed = {x["id"]: x for x in (await client.get(ADMIN_LIST, headers=admin.headers)).json()["items"]}
    assert listed[reg]["active"] is False and "active" in listed[reg]["admin_fields"]
    assert_problem(
        await client.post(
            f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": reg}
        ),
        409,
        "regulator_inactive",
    )
    # the filing already made keeps it: it is read, and organizers record what happens next
    got = await client.get(f"/api/v1/filings/{filing}", headers=s["ann"])
    assert got.status_code == 200, got.text
    r = await client.post(
        f"/api/v1/filings/{filing}/events",
        headers=s["org"],
        json={"status": "submitted", "reference": "12315-A-1", "note": "已在12315平台提交"},
    )
    assert r.status_code == 201, r.text
    case = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    assert [f["id"] for f in case["filings"]] == [filing]

    # reactivated: offered again, audited
    r = await client.patch(f"{REGULATORS}/{reg}", json={"active": True}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["active"] is True
    assert len(await audits("regulator.reactivated")) == 1
    assert reg in [x["id"] for x in (await client.get(REGULATORS)).json()["items"]]
    await build(client, s, reg)  # 201


async def test_a_bureau_is_not_offered_while_its_channel_is_deactivated(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    samr, bureau = await row("cn-12315"), await row("cn-gd-sz-amr")
    r = await client.patch(f"{REGULATORS}/{samr['id']}", json={"active": False}, headers=admin.headers)
    assert r.status_code == 200, r.text
    offered = [x["id"] for x in (await client.get(REGULATORS)).json()["items"]]
    assert samr["id"] not in offered and bureau["id"] not in offered  # complaints to it go via 12315
    with pytest.raises(Conflict):
        await service.require_active(bureau["id"])
    r = await client.patch(f"{REGULATORS}/{samr['id']}", json={"active": True}, headers=admin.headers)
    offered = [x["id"] for x in (await client.get(REGULATORS)).json()["items"]]
    assert {samr["id"], bureau["id"]} <= set(offered)


async def test_refusals_write_nothing(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    user = await verified_user(client, mailbox, worker, "u@example.com")
    samr, bureau = await row("cn-12315"), await row("cn-gd-amr")
    url = f"{REGULATORS}/{samr['id']}"
    before = [dict(r) for r in await Regulator.select().order_by(Regulator.id)]
    audit_count = await AuditEntry.count()

    assert_problem(await client.patch(url, json={"active": False}), 401)
    assert_problem(await client.get(ADMIN_LIST), 401)
    for who in (user, moderator.headers):
        assert_problem(await client.patch(url, json={"active": False}, headers=who), 403)
        assert_problem(await client.get(ADMIN_LIST, headers=who), 403)
        assert_problem(await client.get(f"{ADMIN_LIST}/{samr['id']}", headers=who), 403)
    assert_problem(
        await client.patch(f"{REGULATORS}/999999", json={"active": False}, headers=admin.headers), 404
    )
    assert_problem(await client.get(f"{ADMIN_LIST}/999999", headers=admin.headers), 404)
    for bad, field in (
        ({"active": None}, "active"),
        ({"active": "maybe"}, "active"),
        ({"authorization_required": None}, "authorization_required"),
        ({"routed_by": samr["id"]}, "routed_by"),  # itself
        ({"routed_by": bureau["id"]}, "routed_by"),  # a bureau is no channel
        ({"routed_by": 0}, "routed_by"),
    ):
        problem = assert_problem(await client.patch(url, json=bad, headers=admin.headers), 422)
        assert field in fields_of(problem), (bad, problem)
    assert [dict(r) for r in await Regulator.select().order_by(Regulator.id)] == before
    assert await AuditEntry.count() == audit_count

    # an admin reads one regulator as they edit it: the shipped marker, the variable's name
    got = (await client.get(f"{ADMIN_LIST}/{samr['id']}", headers=admin.headers)).json()
    assert got["shipped"] is True and got["admin_fields"] == [] and got["credentials_env"] is None


def shipped_copy(tmp_path: Path, monkeypatch: Any, change: dict[str, dict[str, Any]]) -> None:
    """data/regulators.json as a new release would ship it: ``change`` by slug."""
    entries = json.loads(service.SEED_FILE.read_text(encoding="utf-8"))
    for e in entries:
        e.update(change.get(e["slug"], {}))
    path = tmp_path / "regulators.json"
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(service, "SEED_FILE", path)


async def test_shipped_corrections_reach_untouched_fields_only(
    client: Any, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    cca, alipay = await row("cn-cca"), await row("cn-alipay-disputes")
    r = await client.patch(
        f"{REGULATORS}/{cca['id']}", json={"note": "本地消协的说明（管理员写的）"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert (await row("cn-cca"))["admin_fields"] in (["note"], '["note"]')

    # the next release corrects both regulators' notes and the association's address
    shipped_copy(
        tmp_path,
        monkeypatch,
        {
            "cn-cca": {"note": "更正后的说明", "address": "https://www.cca.org.cn/tsdh/"},
            "cn-alipay-disputes": {"note": "支付宝：在支付宝 App 内投诉，或拨打 95188"},
        },
    )
    result = await service.sync_shipped()
    assert (result.added, result.corrected, result.kept) == (0, 2, 1)
    cca_after, alipay_after = await row("cn-cca"), await row("cn-alipay-disputes")
    assert cca_after["note"] == "本地消协的说明（管理员写的）"  # the admin's, kept
    assert cca_after["address"] == "https://www.cca.org.cn/tsdh/"  # untouched by admins: corrected
    assert alipay_after["note"] == "支付宝：在支付宝 App 内投诉，或拨打 95188"
    assert alipay_after["name"] == alipay["name"]
    corrected = {e["object_id"]: e for e in await audits("regulator.corrected")}
    assert corrected[cca["id"]]["actor_id"] is None
    assert corrected[cca["id"]]["data"]["fields"] == ["address"]
    assert corrected[cca["id"]]["data"]["kept"] == ["note"]
    assert corrected[alipay["id"]]["data"]["fields"] == ["note"]
    listed = {x["id"]: x for x in (await client.get(REGULATORS)).json()["items"]}
    assert listed[alipay["id"]]["note"] == alipay_after["note"]

    # applied once: the same data again changes and records nothing
    count = await AuditEntry.count()
    assert await service.sync_shipped() == service.ShippedSync(added=0, corrected=0, kept=0)
    assert await AuditEntry.count() == count

    # a release that ships a regulator deactivated: off the list unless an admin set it
    shipped_copy(tmp_path, monkeypatch, {"cn-alipay-disputes": {"active": False}})
    await service.sync_shipped()
    assert (await row("cn-alipay-disputes"))["active"] is False
    assert alipay["id"] not in [x["id"] for x in (await client.get(REGULATORS)).json()["items"]]


async def test_an_edit_made_before_changes_were_recorded_is_read_from_the_audit_log(
    client: Any, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    samr = await row("cn-12315")
    r = await client.patch(
        f"{REGULATORS}/{samr['id']}",
        json={"address": "https://www.12315.cn/cuser/portal/", "authorization_required": False},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    # as an install upgraded to this release holds it: neither column known yet
    await Regulator.update({Regulator.seed_revision: None, Regulator.admin_fields: None}).where(
        Regulator.id == samr["id"]
    )
    shipped_copy(
        tmp_path,
        monkeypatch,
        {
            "cn-12315": {
                "address": "https://www.12315.cn/",
                "name": "全国12315平台",
                "authorization_required": True,
            }
        },
    )
    result = await service.sync_shipped()
    assert result.corrected >= 1 and result.kept == 2
    after = await row("cn-12315")
    assert after["name"] == "全国12315平台"  # corrected
    assert after["address"] == "https://www.12315.cn/cuser/portal/"  # the admin's, from the audit log
    assert after["authorization_required"] is False
    got = (await client.get(f"{ADMIN_LIST}/{samr['id']}", headers=admin.headers)).json()
    assert got["admin_fields"] == ["address", "authorization_required"]


async def test_an_admin_hands_a_field_back_to_the_shipped_data(
    client: Any, mailbox: Any, worker: Any, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    user = await verified_user(client, mailbox, worker, "u@example.com")
    wechat = await row("cn-wechatpay-disputes")
    url = f"{REGULATORS}/{wechat['id']}"
    r = await client.patch(
        url, json={"note": "管理员的说明", "address": "https://kf.qq.com/pay/"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text

    # refused, nothing written: not an admin, a field both changed and restored, an unknown field,
    # a regulator an admin added (nothing shipped to go back to)
    before, count = await row("cn-wechatpay-disputes"), await AuditEntry.count()
    assert_problem(await client.patch(url, json={"restore_shipped": ["note"]}, headers=user), 403)
    problem = assert_problem(
        await client.patch(url, json={"note": "x", "restore_shipped": ["note"]}, headers=admin.headers), 422
    )
    assert "restore_shipped" in fields_of(problem)
    problem = assert_problem(
        await client.patch(url, json={"restore_shipped": ["credentials_env"]}, headers=admin.headers), 422
    )
    assert fields_of(problem) == {"restore_shipped[0]"}
    body = {"name": "某地消协", "jurisdiction": "某地", "channel": "manual", "address": "电话 12315"}
    added = (await client.post(REGULATORS, json=body, headers=admin.headers)).json()["id"]
    count += 1  # regulator.created
    assert_problem(
        await client.patch(
            f"{REGULATORS}/{added}", json={"restore_shipped": ["note"]}, headers=admin.headers
        ),
        409,
        "regulator_not_shipped",
    )
    assert await row("cn-wechatpay-disputes") == before and await AuditEntry.count() == count

    r = await client.patch(url, json={"restore_shipped": ["note"]}, headers=admin.headers)
    assert r.status_code == 200, r.text
    after = await row("cn-wechatpay-disputes")
    assert after["note"] == wechat["note"] and after["address"] == "https://kf.qq.com/pay/"
    got = (await client.get(f"{ADMIN_LIST}/{wechat['id']}", headers=admin.headers)).json()
    assert got["admin_fields"] == ["address"]
    (entry,) = [e for e in await audits("regulator.updated") if e["data"].get("restored")]
    assert entry["data"] == {"fields": [], "restored": ["note"]} and entry["actor_id"] == admin.id

    # the restored field follows the next correction again; the admin's address stays
    shipped_copy(
        tmp_path,
        monkeypatch,
        {"cn-wechatpay-disputes": {"note": "微信支付：95017", "address": "https://pay.weixin.qq.com/"}},
    )
    await service.sync_shipped()
    after = await row("cn-wechatpay-disputes")
    assert (after["note"], after["address"]) == ("微信支付：95017", "https://kf.qq.com/pay/")


async def test_an_install_seeded_before_the_sourced_registry_gets_it_keeping_an_admins_field(
    client: Any, settings: Any, monkeypatch: Any
) -> None:
    """Issue 18 item 9: an install seeded with the registry as shipped before it matched how
    complaints work in China (8 regulators) gets, at its next `chorus migrate`, the regulators
    added (the local consumer council, UnionPay, the anti-fraud app, 12345, the marketplaces'
    own channels) and the corrected fields, while a field an admin changed stays theirs."""
    from tests.support import truncate_all

    await truncate_all()
    current = service.SEED_FILE
    before = Path(__file__).resolve().parent.parent / "fixtures" / "regulators_before_issue18_item9.json"
    monkeypatch.setattr(service, "SEED_FILE", before)
    assert (await service.sync_shipped()).added == 8
    assert (await row("cn-police-antifraud"))["address"] == "https://www.cyberpolice.cn/"
    admin = await staff(client, settings, "admin@example.com", "admin")
    alipay = await row("cn-alipay-disputes")
    r = await client.patch(
        f"{REGULATORS}/{alipay['id']}", json={"note": "本群约定：先找支付宝"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text

    monkeypatch.setattr(service, "SEED_FILE", current)  # the release with item 9's data
    result = await service.sync_shipped()
    shipped = json.loads(current.read_text(encoding="utf-8"))
    assert result.added == len(shipped) - 8 and result.kept == 1
    listed = {x["name"]: x for x in (await client.get(REGULATORS)).json()["items"]}
    assert {"深圳市消费者委员会", "中国银联客服（银行卡交易争议）", "国家反诈中心 App"} <= set(listed)
    assert {"淘宝（含天猫）平台投诉", "拼多多平台投诉", "抖音电商平台投诉", "闲鱼平台投诉"} <= set(listed)
    assert listed["12345政务服务便民热线"]["channel"] == "manual"
    assert listed["12345政务服务便民热线"]["template_kind"] == "hotline"
    assert listed["淘宝（含天猫）平台投诉"]["template_kind"] == "marketplace"

    police = await row("cn-police-antifraud")  # corrected: a 报案 at a 派出所 or through 110
    assert police["name"] == "公安机关报案（派出所或110）" and "110" in police["address"]
    assert "受案回执" in police["note"] and "96110" in police["note"]
    assert "很少直接处理个人投诉" in (await row("cn-cca"))["note"]
    assert (await row("cn-alipay-disputes"))["note"] == "本群约定：先找支付宝"  # the admin's, kept
    assert "95017" in (await row("cn-wechatpay-disputes"))["note"]
    corrected = {e["object_id"]: e["data"] for e in await audits("regulator.corrected")}
    assert corrected[alipay["id"]]["kept"] == ["note"]
    assert corrected[police["id"]]["fields"] == ["address", "name", "note"]

    # every regulator shows where its facts were read, unconfirmed ones marked
    got = listed["国家反诈中心 App"]["sources"]
    assert got and got[0]["confirmed"] is True and got[0]["url_or_citation"].startswith("http")
    assert any(not s["confirmed"] for s in listed["中国消费者协会"]["sources"])
    # a bureau is still reached through 12315, never side by side with it
    sz = await row("cn-gd-sz-amr")
    assert sz["routed_by"] == (await row("cn-12315"))["id"]
    assert await service.sync_shipped() == service.ShippedSync(added=0, corrected=0, kept=0)
