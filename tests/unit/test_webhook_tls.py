"""A member's webhook is sent only to a server whose certificate is trusted: the one TLS context
kept per process (netguard.certificates) still checks it. A real HTTPS server on 127.0.0.1 with
a self-signed certificate; the same server, trusted explicitly, takes the same kind of POST."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chorus.netguard import Policy
from chorus.notifications import webhook


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class Posts:
    count = 0


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[tuple[str, Path, Posts]]:
    cert_file, key_file = self_signed(tmp_path)
    posts = Posts()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            posts.count += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/hook", cert_file, posts
    finally:
        server.shutdown()
        server.server_close()


async def test_a_webhook_to_an_untrusted_certificate_is_not_sent(
    https_receiver: tuple[str, Path, Posts],
) -> None:
    url, cert_file, posts = https_receiver
    payload = {"kind": "case.status_changed", "case_id": 1, "data": {"status": "filing"}}
    for _ in range(2):  # the context kept after the first delivery checks as well as the first
        with pytest.raises(webhook.Transient, match="CERTIFICATE_VERIFY_FAILED"):
            await webhook.post(url, webhook.new_secret(), payload, policy=Policy(strict=False), seconds=10)
    assert posts.count == 0  # nothing reached the server: the payload never left unencrypted or unchecked

    # the server itself answers: trusted by hand, the same kind of POST goes through
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert_file)) as client:
        answer = await client.post(url, json=payload)
    assert answer.status_code == 200 and posts.count == 1
