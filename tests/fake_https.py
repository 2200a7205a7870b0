"""The HTTPS server under the fakes of mail providers (tests/fake_google.py, tests/fake_microsoft.py).

A fake answers on a free loopback port over TLS with a certificate that is its own CA, so the real client libraries
(msal, requests, google-auth) check it as they would check the provider, given only the fake's `ca_file`. A fake
subclasses `FakeHttps`, answers `answer(request)` under its lock, and is started with `serve()`; every request is
kept in `requests`. An answer of None closes the connection without a word: the work was done, but the client
never hears so.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import shutil
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, Self
from urllib.parse import unquote, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded
    query: str  # as sent
    headers: HTTPMessage
    body: bytes


@dataclass
class FakeHttps:
    name: ClassVar[str] = "fake-https"  # of its thread and its temporary directory
    methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "DELETE")  # the rest are answered 501, as by the stdlib

    base: str = ""  # https://127.0.0.1:PORT, set by serve()
    ca_file: str = ""  # the server's self-signed certificate; pass it as `verify=`
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _directory: str = field(default="", repr=False)

    def answer(self, request: Request) -> Reply | None:
        """The reply to one request, under the fake's lock; None closes the connection unanswered."""
        raise NotImplementedError

    def handle(self, method: str, target: str, headers: HTTPMessage, body: bytes) -> Reply | None:
        parts = urlsplit(target)
        request = Request(method, unquote(parts.path), parts.query, headers, body)
        with self.lock:
            self.requests.append((method, request.path))
            return self.answer(request)

    def serve(self) -> Self:
        """Serve on a free loopback port over HTTPS; stop with `stop()`."""
        self._directory = tempfile.mkdtemp(prefix=f"{self.name}-")
        cert_file, key_file = _self_signed(Path(self._directory), self.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server = _Server(("127.0.0.1", 0), _handler_for(type(self).__name__, self.methods))
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.fake = self
        self.base, self.ca_file, self._server = f"https://127.0.0.1:{server.server_address[1]}", cert_file, server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name=self.name).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- Answers and small pieces of the web's protocols ----------------------------------------------------------


def json_reply(status: int, payload: object, headers: dict[str, str] | None = None,
               content_type: str = JSON) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": content_type, **(headers or {})})


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def json_body(body: bytes) -> dict | None:
    """A request's JSON object; None when the body is not one."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def with_query(uri: str, params: dict[str, str | None]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode({name: value for name, value in params.items() if value is not None})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def number_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


# --- The server ----------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHttps

    def handle_error(self, request, client_address) -> None:  # clients that hang up or reject the certificate
        pass


class _Handler(BaseHTTPRequestHandler):
    """Answers through the fake the methods it names (`_handler_for` adds their do_* methods)."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the providers' servers, so a dropped answer drops a live connection
    timeout = 30
    server: _Server

    def handle(self) -> None:
        try:
            self.connection.do_handshake()  # here, in this connection's thread, not in the accept loop
        except (ssl.SSLError, OSError):
            return
        super().handle()

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(self.command, self.path, self.headers, body)
        if reply is None:  # the work is done, but the client never hears so
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in {**reply.headers, "Content-Length": str(len(reply.body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


def _handler_for(fake_name: str, methods: tuple[str, ...]) -> type[_Handler]:
    """A handler with a do_* method for each of the provider's methods; the stdlib answers any other 501."""
    return type(f"{fake_name}Handler", (_Handler,), {f"do_{method}": _Handler.answer for method in methods})


def _self_signed(directory: Path, name: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own CA, so its file is the whole trust bundle a client needs."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)
