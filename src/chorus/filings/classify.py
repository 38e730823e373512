"""Reading a regulator's reply (pure): the status it seems to announce, for organizers to confirm.

A reply (an e-mail's subject and body, or a protocol-v1 ``message``) is searched for phrases in
Chinese and English that announce a decision: 已受理 / accepted, 不予受理 / not accepted,
补充材料 / further information required, 调解 / mediation, 已办结 / concluded, 终止调解 /
mediation terminated. The result is only a *proposal*: nothing here changes a filing.

Negations are read first and their text masked, so the positive inside them can never match
(不予受理 holds 受理, "not accepted" holds "accepted", 调解不成 holds 调解); an English positive
with a negating word just before it ("has not been resolved") is skipped. Earlier mail quoted
below the reply and the sender's signature are left out: they repeat what was said before.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from chorus.filings.status import FilingStatus

# Enough for any real reply; keeps a pathological input from costing more than this much reading.
MAX_CHARS = 20_000
PHRASE_CHARS = 200
# Lowered when the reply also announces other statuses (the strongest one wins, less surely).
MIXED_PENALTY = 0.2


@dataclass(frozen=True)
class Proposal:
    """What a reply seems to announce: a status, how sure (0..1), and the words that said so."""

    status: FilingStatus
    confidence: float
    phrase: str


@dataclass(frozen=True)
class _Rule:
    status: FilingStatus
    pattern: re.Pattern[str]
    confidence: float
    negation: bool  # a negated decision: its text is masked before the positives are read


def _rule(status: FilingStatus, pattern: str, confidence: float, *, negation: bool = False) -> _Rule:
    return _Rule(status, re.compile(pattern), confidence, negation)


_S = FilingStatus
# English words that negate what follows within a few words ("has not yet been resolved").
_EN_NOT = r"(?:\bnot|n't|\bnever|\bno|\bcannot|\bunable to|\byet to|\bpending)"
_NEGATIONS: tuple[_Rule, ...] = (
    # mediation ended without agreement: closed, never "in mediation"
    _rule(
        _S.closed,
        r"终止(?:本次|本案|此次|该)?调解|调解(?:不成|未成|失败|未果|终止|无果)|不予调解|"
        r"(?:未能|未|没有|无法)达成(?:调解)?(?:协议|一致)",
        0.85,
        negation=True,
    ),
    _rule(
        _S.closed,
        r"mediation (?:(?:has|was|is|had) (?:been )?)?(?:terminated|ended|discontinued|"
        r"unsuccessful|failed)|(?:terminat\w*|end\w*|discontinu\w*) (?:the |this |of )*mediation|"
        r"mediation (?:did|could) not (?:succeed|reach)|(?:no|failed to reach an?|"
        r"could not reach an?|did not reach an?) (?:mediation |mediated )?(?:agreement|settlement)"
        r"(?: (?:was|could be) reached)?|(?:declined|refused|rejected) (?:the |to )?mediat\w*",
        0.8,
        negation=True,
    ),
    # not accepted: rejected, never "accepted"
    _rule(
        _S.rejected,
        r"(?:不予|决定不予|暂不予?|未予|不能|无法|拒绝|拒不|不)受理|不符合受理条件",
        0.9,
        negation=True,
    ),
    _rule(
        _S.rejected,
        r"(?:not|n't|never|cannot|can ?not|unable to|will not|won't|could not|"
        r"couldn't) (?:be |been |have been |has been |yet been |yet be )?(?:accepted|accept|accepting)",
        0.8,
        negation=True,
    ),
    # a party refusing mediation ends it
    _rule(_S.closed, r"(?:不同意|拒绝|拒不|不接受)(?:接受)?调解", 0.6, negation=True),
    # neither yes nor no (not resolved yet; whether to accept): masked, the positive inside says nothing
    _rule(
        _S.received,
        r"(?:尚未|未|没有|仍未|还未)(?:办结|处理完毕|结案|解决)|是否(?:予以)?受理|能否受理|"
        r"受理与否|待受理|等待受理|申请调解|是否(?:同意)?调解|可以(?:申请)?调解",
        0.0,
        negation=True,
    ),
    _rule(
        _S.received,
        r"whether (?:to accept|(?:it|your complaint) (?:will|can|could) be accepted)|"
        r"whether (?:to )?mediat\w*",
        0.0,
        negation=True,
    ),
)
_POSITIVES: tuple[_Rule, ...] = (
    _rule(_S.rejected, r"驳回|不予立案|rejected|declined|refused", 0.7),
    _rule(
        _S.needs_info,
        r"补充(?:提交|提供|(?:相关|有关)?(?:材料|资料|证据|证明))|补正(?:材料|资料)?|"
        r"提供(?:补充|进一步|更多)的?(?:材料|资料|证据|信息)",
        0.85,
    ),
    _rule(
        _S.needs_info,
        r"(?:additional|further|more|supplementary|missing) (?:information|"
        r"documents?|documentation|materials?|evidence|details)(?: (?:is|are) (?:required|needed))?|"
        r"(?:information|documents?) (?:is |are )?(?:required|missing)",
        0.75,
    ),
    _rule(_S.resolved, r"已办结|办结|处理完毕|处理完结|已结案|结案|调解成功|达成(?:调解)?协议|已解决", 0.8),
    _rule(_S.resolved, r"(?:concluded|resolved|closed|completed|settled)", 0.65),
    _rule(
        _S.in_mediation,
        r"进入调解|组织(?:双方)?(?:进行)?调解|正在调解|调解中|安排调解|开展调解|"
        r"调解程序|进行调解|予以调解|调解",
        0.7,
    ),
    _rule(_S.in_mediation, r"mediat(?:ion|ed|es|e|ing|ors|or)", 0.65),
    _rule(_S.accepted, r"已受理|予以受理|决定受理|已被受理|正式受理|已经受理", 0.85),
    _rule(_S.accepted, r"受理", 0.6),  # in a subject (受理告知) or a heading: less sure
    _rule(
        _S.accepted,
        r"(?:has been|have been|was|is|been|were) accepted|accepted (?:for|your)|"
        r"we (?:have )?accepted|accepted",
        0.7,
    ),
)
# When a reply announces several statuses, the one furthest along (or final) wins.
_RANK = (_S.rejected, _S.closed, _S.resolved, _S.needs_info, _S.in_mediation, _S.accepted)

# Where quoted earlier mail begins (everything from it on is left out).
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*(?:original message|原始邮件|forwarded message|转发的邮件)\s*-{2,}|"
    r"on .{0,200}wrote:|在 ?.{0,200}写道[:：]|(?:from|发件人)\s*[:：].*)$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(?:--|-- |__+|—— ?)$")
_NEG_BEFORE = re.compile(rf"{_EN_NOT}\b[\w' ]{{0,20}}$")


def normalize(text: str) -> str:
    """The text as rules read it: NFKC (full-width letters become ASCII), case-folded, with runs of
    spaces (not line breaks) made one space."""
    folded = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    return re.sub(r"[^\S\n]+", " ", folded)


def reply_body(text: str) -> str:
    """The new part of a reply: lines quoted with ``>``, earlier mail below a reply header and the
    signature below ``--`` left out. A header on the first non-empty line is not a quote."""
    kept: list[str] = []
    begun = False
    for line in normalize(text).split("\n"):
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        if begun and (_QUOTE_START.match(stripped) or _SIGNATURE.match(stripped)):
            break
        begun = begun or bool(stripped)
        kept.append(line)
    return "\n".join(kept)


def classify(text: str) -> Proposal | None:
    """The status a reply seems to announce, or None if it announces none."""
    body = reply_body(text)
    hits: dict[FilingStatus, tuple[float, str]] = {}

    def read(rule: _Rule, match: re.Match[str]) -> str:
        english = rule.pattern.pattern.isascii()
        if english and not rule.negation:
            if not _word_bounded(match.string, match.start(), match.end()):
                return match.group(0)
            if _NEG_BEFORE.search(match.string[max(0, match.start() - 40) : match.start()]):
                return match.group(0)  # "has not been resolved": a negated positive says nothing
        if rule.status in _RANK:
            confidence, phrase = rule.confidence, match.group(0).strip()[:PHRASE_CHARS]
            if rule.status not in hits or hits[rule.status][0] < confidence:
                hits[rule.status] = (confidence, phrase)
        return "\x00" * (match.end() - match.start())  # read once: no later rule sees it

    for rule in (*_NEGATIONS, *_POSITIVES):
        body = rule.pattern.sub(functools.partial(read, rule), body)
    for status in _RANK:
        if status in hits:
            confidence, phrase = hits[status]
            if len(hits) > 1:
                confidence -= MIXED_PENALTY
            return Proposal(status, round(max(0.05, min(1.0, confidence)), 2), phrase)
    return None


def _word_bounded(text: str, start: int, end: int) -> bool:
    """An English match is a whole word (``accepted`` is not inside ``unaccepted``)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalpha())
