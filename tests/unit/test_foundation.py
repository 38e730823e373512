"""Pure pieces of the foundation: locales, settings, tokens."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chorus import i18n, security
from chorus.settings import Settings

LOCALES = Path(i18n.__file__).parent / "locales"


def test_catalogs_have_the_same_keys() -> None:
    zh = json.loads((LOCALES / "zh-CN.json").read_text(encoding="utf-8"))
    en = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
    assert all(v.strip() for v in [*zh.values(), *en.values()])


def test_area_catalogs_have_the_same_keys_in_both_languages() -> None:
    """Each locales/<locale>/<area>.json has its twin in the other language, key for key, and
    the merged catalogs (main file + areas) load without a key defined twice."""
    zh_areas = {p.name for p in (LOCALES / "zh-CN").glob("*.json")}
    en_areas = {p.name for p in (LOCALES / "en").glob("*.json")}
    assert zh_areas == en_areas and "pages-common.json" in zh_areas
    for name in sorted(zh_areas):
        zh = json.loads((LOCALES / "zh-CN" / name).read_text(encoding="utf-8"))
        en = json.loads((LOCALES / "en" / name).read_text(encoding="utf-8"))
        assert set(zh) ^ set(en) == set(), (name, sorted(set(zh) ^ set(en)))
        assert all(v.strip() for v in [*zh.values(), *en.values()]), name
        assert all(k.startswith("page.") for k in zh) or not name.startswith("pages-"), name
    zh_all = i18n.load_catalog(i18n.catalog_files("zh-CN"))
    en_all = i18n.load_catalog(i18n.catalog_files("en"))
    assert set(zh_all) == set(en_all)
    assert i18n.t("page.nav.check", "zh-CN") == "查商家"
    assert i18n.t("page.nav.check", "en") == "Check a merchant"


# strings in the code that look like catalog keys and are not: a file name, a docstring's example
NOT_KEYS = {"page.html", "page.x.y"}


def test_every_key_written_out_in_the_code_is_in_both_catalogs() -> None:
    """A page or error key typed whole in Python or a template exists, or the page shows the key
    itself ("page.case.timeline.reply" did, for every regulator's reply). Keys put together at
    run time (``"page.case.timeline.source." ~ h.source``) end in a dot or an underscore here and
    are left to the tests of what they render."""
    src = Path(i18n.__file__).parent
    written = re.compile(r"""["']((?:page|errors)\.[A-Za-z0-9_.-]+)["']""")
    found = {
        key: path.relative_to(src).as_posix()
        for path in sorted([*src.rglob("*.py"), *(src / "templates").rglob("*.html")])
        for key in written.findall(path.read_text(encoding="utf-8"))
        if not key.endswith((".", "_")) and key not in NOT_KEYS
    }
    assert len(found) > 500  # the pattern still finds the keys
    for locale in i18n.LOCALES:
        missing = {key: where for key, where in found.items() if key not in i18n.catalog(locale)}
        assert not missing, (locale, missing)


def test_a_key_in_two_catalog_files_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en.json").write_text('{"errors.x": "X"}', encoding="utf-8")
    (tmp_path / "en" / "a.json").write_text('{"page.a": "A"}', encoding="utf-8")
    assert i18n.load_catalog(i18n.catalog_files("en", tmp_path)) == {"errors.x": "X", "page.a": "A"}
    (tmp_path / "en" / "b.json").write_text('{"page.a": "again"}', encoding="utf-8")
    with pytest.raises(i18n.CatalogConflict, match=r"page\.a.*a\.json.*b\.json"):
        i18n.load_catalog(i18n.catalog_files("en", tmp_path))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("fr-FR,en;q=0.5", "en"),
        ("en;q=0.4,zh-CN;q=0.8", "zh-CN"),
        ("de", "zh-CN"),
        ("en;q=abc", "zh-CN"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_translation_falls_back_and_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    assert i18n.t("email.greeting", "en", name="Ann") == "Hello Ann,"
    assert i18n.t("email.greeting", "xx", name="李") == "李，您好："
    # a key in no catalog: itself in production; under the tests' strict mode, an error
    with pytest.raises(i18n.MissingKey, match=r"no\.such\.key"):
        i18n.t("no.such.key", "en")
    monkeypatch.delenv("CHORUS_I18N_STRICT")
    assert i18n.t("no.such.key", "en") == "no.such.key"
    assert i18n.known("email.greeting") and not i18n.known("no.such.key")


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("en", 1, "1 of your cases needs you."),
        ("en", "1", "1 of your cases needs you."),  # as the page writes the number out
        ("en", 2, "2 of your cases need you."),
        ("en", 0, "0 of your cases need you."),
        ("en", "1,001", "1,001 of your cases need you."),
        ("zh-CN", 1, "有 1 个案件需要您处理。"),  # Chinese has no singular
    ],
)
def test_a_count_of_one_takes_the_singular_text(locale: str, count: int | str, expected: str) -> None:
    assert i18n.t("page.case.mine.lead_waiting", locale, count=count) == expected


def test_chinese_words_for_exactly_one_are_taken_too() -> None:
    """One victim has a loss, not a total loss: the _one text is chosen in Chinese as well."""
    one = i18n.t("page.merchants.reported", "zh-CN", count="1", loss="¥5.00")
    assert one == "1 位受害者举报了这个商家，损失 ¥5.00。"
    two = i18n.t("page.merchants.reported", "zh-CN", count="2", loss="¥5.00")
    assert two == "2 位受害者举报了这个商家，总损失 ¥5.00。"


def test_every_singular_text_has_its_counted_text_and_its_count() -> None:
    """A ``_one`` text beside a text that counts, in both catalogs, with the same count."""
    for locale in i18n.LOCALES:
        texts = i18n.catalog(locale)
        for key, text in texts.items():
            base = key.removesuffix("_one")
            if key.endswith("_one") and base in texts:
                counts = [c for c in ("{count}", "{n}") if c in texts[base]]
                assert counts, (locale, base)  # the counted text says how many
                # the singular may say "1" in words; what it fills in, the counted text has too
                names = set(re.findall(r"\{(\w+)\}", text))
                assert names <= set(re.findall(r"\{(\w+)\}", texts[base])), key


SOURCE = Path(i18n.__file__).parent
SOURCE_SUFFIXES = {".py", ".html", ".j2", ".txt", ".xml"}
# how code names a text by its prefix: f"page.case.{part}", 'page.case.' ~ part, "page.case." + part
DYNAMIC = r"(?:\{|[\"']\s*[~+])"


def test_every_catalog_text_is_used() -> None:
    """No text waits in the catalogs for code that no longer asks for it: each key (or its
    counted form, for a ``_one`` text) is named in the code or templates, or a prefix of it is
    completed there (``f"page.case.{part}"``, ``f"feed.members_{band}"``). Its first run found
    three texts of notifications that had moved to the e-mail templates."""
    code = "\n".join(
        p.read_text(encoding="utf-8", errors="ignore")
        for p in sorted(SOURCE.rglob("*"))
        if p.is_file() and p.suffix in SOURCE_SUFFIXES and "locales" not in p.parts
    )
    unused = []
    for key in i18n.catalog(i18n.DEFAULT_LOCALE):
        base = key.removesuffix("_one")
        prefixes = (base[: i + 1] for i, c in enumerate(base) if c in "._")
        if base not in code and not any(re.search(re.escape(p) + DYNAMIC, code) for p in prefixes):
            unused.append(key)
    assert unused == []


def test_counted_texts_have_one_form() -> None:
    """One way to say "1 item": a ``_one`` text beside the counted one, never ``.one``/``.other``."""
    for locale in i18n.LOCALES:
        assert [k for k in i18n.catalog(locale) if k.endswith(".one")] == [], locale


def test_production_requires_secret_and_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("CHORUS_SECRET_KEY", "CHORUS_SMTP_HOST", "CHORUS_DATA_KEY"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValidationError, match="CHORUS_SECRET_KEY"):
        Settings(env="production", smtp_host="mail.example.com", data_key="d" * 40)
    with pytest.raises(ValidationError, match="CHORUS_SMTP_HOST"):
        Settings(env="production", secret_key="s" * 40, data_key="d" * 40)
    # members' identity details are encrypted under it: no production start without it
    with pytest.raises(ValidationError, match="CHORUS_DATA_KEY"):
        Settings(
            env="production",
            secret_key="s" * 40,
            smtp_host="mail.example.com",
            public_url="https://x.example.com",
        )
    ok = Settings(
        env="production",
        secret_key="s" * 40,
        data_key="d" * 40,
        smtp_host="mail.example.com",
        public_url="https://chorus.example.com",
    )
    assert ok.signing_key() == "s" * 40
    assert ok.logs_as_json


def test_development_key_is_made_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHORUS_SECRET_KEY", raising=False)
    a = Settings(var_dir=tmp_path / "a").signing_key()
    assert a == Settings(var_dir=tmp_path / "a").signing_key()
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert a != Settings(var_dir=tmp_path / "b").signing_key()


def test_bad_rate_limit_spec_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(auth_rate_limit="lots")


def test_signed_tokens_are_bound_to_purpose_and_key() -> None:
    token = security.sign("k1", "verify-email", {"u": 1})
    assert security.unsign("k1", "verify-email", token, 60) == {"u": 1}
    with pytest.raises(security.TokenInvalid):
        security.unsign("k2", "verify-email", token, 60)
    with pytest.raises(security.TokenInvalid):
        security.unsign("k1", "unsubscribe", token, 60)


async def test_password_hashes_are_argon2id_and_verify() -> None:
    h = await security.hash_password("pässwörd with spaces ")
    assert h.startswith("$argon2id$")
    assert await security.verify_password(h, "pässwörd with spaces ")
    assert not await security.verify_password(h, "pässwörd with spaces")
    assert not await security.verify_password(None, "anything")


def test_passwords_cost_the_recommended_argon2_work_outside_the_test_suite() -> None:
    """The suite's own accounts hash cheaply (tests/conftest.py sets the flag); a deployment
    never does, even with the flag set in production."""
    cheap, recommended = (1, 8, 1), (3, 65536, 4)

    def cost(environ: dict[str, str]) -> tuple[int, int, int]:
        h = security.make_hasher(environ)
        return h.time_cost, h.memory_cost, h.parallelism

    flag = security.CHEAP_HASHES_ENV
    assert cost({}) == recommended
    assert cost({"CHORUS_ENV": "development"}) == recommended
    assert cost({flag: "1", "CHORUS_ENV": "production"}) == recommended
    assert cost({flag: "1", "CHORUS_ENV": "development"}) == cheap
    assert security.make_hasher({flag: "1"}).hash("x").startswith("$argon2id$")


def test_every_identifier_kind_and_reason_has_texts() -> None:
    from chorus.merchants.identifiers import REASONS, IdentifierKind

    for locale in ("zh-CN", "en"):
        cat = i18n.catalog(locale)
        assert {f"identifier.reason.{r}" for r in REASONS} <= set(cat)
        assert {f"identifier.kind.{k.value}" for k in IdentifierKind} <= set(cat)


def test_every_error_code_raised_in_the_code_has_texts() -> None:
    """A domain error without catalog text would answer with its bare key."""
    import re

    src = Path(i18n.__file__).parent
    raised = re.compile(
        r"\b(?:Invalid|Conflict|NotFound|Forbidden|NotAuthenticated|TooLarge|UnsupportedType|"
        r"RangeNotSatisfiable|MalformedForm)\(\s*f?\"([a-z_{}.]+)\""
    )
    field_codes = re.compile(r"FieldError\([^()]*?,\s*\"([a-z_]+)\"")
    class_codes = re.compile(r"^\s+code = \"([a-z_]+)\"", re.MULTILINE)
    codes: set[str] = set()
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= {c for c in raised.findall(text) if "{" not in c}
        codes |= set(field_codes.findall(text)) | set(class_codes.findall(text))
    assert len(codes) > 40  # the scan found the codes
    for locale in ("zh-CN", "en"):
        missing = sorted(c for c in codes if f"errors.{c}" not in i18n.catalog(locale))
        assert missing == [], (locale, missing)


def _domains() -> list[tuple[str, set[str]]]:
    """The keys put together at run time (``t("page.status.filing." ~ f.status)``): each prefix
    with every value the code can give it."""
    from typing import get_args

    from chorus.cases.schemas import CaseStatusUpdate
    from chorus.evidence.fields import FIELD_KINDS
    from chorus.evidence.service import KINDS
    from chorus.filings.deadlines import Phase, Unit
    from chorus.filings.schemas import QuarantineReason, QuarantineState
    from chorus.filings.service import INBOUND_OTHER
    from chorus.filings.status import FilingStatus, Source
    from chorus.ladder import steps
    from chorus.ladder.schemas import State
    from chorus.merchants.identifiers import IdentifierKind
    from chorus.notifications.schemas import EmailMode

    def literal(annotation: Any) -> set[str]:
        """The strings of a ``Literal[...]`` (or ``Literal[...] | None``)."""
        found = {a for a in get_args(annotation) if isinstance(a, str)}
        return found | {v for a in get_args(annotation) if a is not type(None) for v in literal(a)}

    sources = {s.value for s in Source} | {INBOUND_OTHER}
    sets = steps.data().sets.values()
    window = steps.Window.model_fields
    reasons = set(get_args(QuarantineReason))
    return [
        ("page.status.case.", literal(CaseStatusUpdate.model_fields["status"].annotation) | {"merged"}),
        ("page.status.filing.", {s.value for s in FilingStatus}),
        ("page.filings.source.", sources),
        ("page.case.timeline.source.", sources),
        ("page.case.timeline.reply_", {Source.regulator.value, INBOUND_OTHER}),
        ("page.ladder.phase.", set(get_args(Phase))),
        ("page.ladder.window.unit.", set(get_args(Unit)) | literal(window["unit"].annotation)),
        ("page.filings.unit.", set(get_args(Unit))),
        ("page.ladder.stage.", literal(steps.Step.model_fields["stage"].annotation)),
        ("page.ladder.state.", set(get_args(State))),
        ("page.ladder.paid_with.", {v for one in sets for v in one.paid_with}),
        ("page.ladder.bought_on.", {v for one in sets for v in one.bought_on}),
        ("page.ladder.window.starts.", literal(window["starts"].annotation)),
        ("identifier.kind.", {k.value for k in IdentifierKind}),
        ("complaint.evidence_kind.", set(KINDS)),
        ("page.extraction.kind.", set(FIELD_KINDS)),
        ("page.quarantine.reason.", reasons),
        ("page.quarantine.explain.", reasons),
        ("page.quarantine.state.", set(get_args(QuarantineState))),
        ("page.settings.email.", set(get_args(EmailMode))),
        ("page.language.", set(i18n.LOCALES)),
    ]


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_value_a_key_is_put_together_from_has_its_words(locale: str) -> None:
    """A status, a source, a unit… the code can produce has a text under each prefix the pages
    and mails add it to: a new value without one fails here, not on a page no test opens."""
    missing = sorted(
        prefix + value
        for prefix, values in _domains()
        for value in values
        if prefix + value not in i18n.catalog(locale)
    )
    assert not missing, missing
