"""Streaming multipart/form-data: the file part flows chunk by chunk to the consumer (to be
hashed and written once); the small text fields around it are collected on the way."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from chorus.errors import DomainError, Invalid

MAX_FIELD_BYTES = 16 * 1024


@dataclass
class StreamedForm:
    """Filled in while ``file_chunks`` is consumed; complete once it is exhausted."""

    fields: dict[str, str] = field(default_factory=dict)
    file_seen: bool = False
    filename: str = ""
    content_type: str = ""


class MalformedForm(DomainError):
    status = 400
    code = "malformed_form"


async def file_chunks(
    stream: AsyncIterator[bytes], boundary: bytes, form: StreamedForm, file_field: str = "file"
) -> AsyncIterator[bytes]:
    """Yield the bytes of the one file part named ``file_field`` (a second one is refused:
    ``one_file_only``); collect other fields. The parsing is :func:`file_parts`'."""
    files = 0
    async for event in _events(stream, boundary, form, file_field, max_segments=16):
        if isinstance(event, FilePart):
            files += 1
            if files > 1:
                raise Invalid("one_file_only", field=file_field)
            form.filename, form.content_type = event.filename, event.content_type
        elif isinstance(event, bytes):
            yield event


@dataclass(frozen=True)
class FilePart:
    """One file of a form as the client named and typed it (recorded, never trusted)."""

    filename: str
    content_type: str


_END = object()  # a file part ended


async def _events(
    stream: AsyncIterator[bytes], boundary: bytes, form: StreamedForm, file_field: str, max_segments: int
) -> AsyncIterator[object]:
    """A form's file parts as events: a ``FilePart`` where one starts, its bytes, ``_END``."""
    try:
        with PushMultipartParser(boundary, max_segment_count=max_segments, max_header_size=8192) as parser:
            segment: MultipartSegment | None = None
            in_file = False
            buf = bytearray()
            async for chunk in stream:
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment, buf = part, bytearray()
                        in_file = part.name == file_field and part.filename is not None
                        if in_file:
                            form.file_seen = True
                            yield FilePart(part.filename or "", part.content_type or "")
                    elif part:
                        if in_file:
                            yield bytes(part)
                        else:
                            buf.extend(part)
                            if len(buf) > MAX_FIELD_BYTES:
                                raise Invalid("field_too_long", field=segment.name if segment else "")
                    else:
                        if in_file:
                            yield _END
                        elif segment is not None:
                            form.fields[segment.name] = buf.decode(segment.charset or "utf-8", "replace")
                        segment, in_file = None, False
                if parser.closed:
                    break
            if not parser.closed:
                raise MalformedForm()
    except (ParserError, ParserLimitReached) as exc:
        raise MalformedForm() from exc


async def _until_end(events: AsyncIterator[object]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is _END:
            return
        assert isinstance(event, bytes)
        yield event


async def file_parts(
    stream: AsyncIterator[bytes],
    boundary: bytes,
    form: StreamedForm,
    file_field: str = "file",
    max_segments: int = 16,
) -> AsyncGenerator[tuple[FilePart, AsyncIterator[bytes]], None]:
    """Each file part named ``file_field`` in turn, with an iterator of its bytes: a form whose
    file input takes several files (one file: :func:`file_chunks`). Read a file's bytes before
    asking for the next file; what is left unread of it is skipped. The other fields are
    collected into ``form.fields`` as they pass (those placed before the files are there when
    the first file starts)."""
    events = _events(stream, boundary, form, file_field, max_segments)
    async for event in events:
        if isinstance(event, FilePart):
            body = _until_end(events)
            yield event, body
            async for _ in body:  # the rest of a file its reader gave up on
                pass
