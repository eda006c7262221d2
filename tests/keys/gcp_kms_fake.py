"""A loopback fake of the Cloud KMS REST API (``POST /v1/{name}:encrypt`` and ``:decrypt``).

Each known key holds a random AES-256-GCM key; "ciphertexts" are ``fk1 || nonce || sealed`` with
the resource id as AAD, so a ciphertext only decrypts under the key that made it (like the real
service, which answers 400 INVALID_ARGUMENT otherwise). Requests need ``Authorization: Bearer``
with the expected access token, or a self-signed service-account JWT (RS256, checked against the
account's public key) — what the Go client of sops sends for a non-default universe domain.

``mode`` injects faults: ``deny`` (403), ``unauthenticated`` (401), ``malformed`` (200 with broken
JSON), ``hang`` (never answers until stopped), ``unavailable`` (503). ``calls`` counts requests
by method. ``serve_tls`` adds an HTTPS listener and ``ConnectProxy`` an HTTP CONNECT proxy, which
is how the sops binary (no endpoint override in 3.11) is pointed at this fake.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import select
import socket
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           503: "UNAVAILABLE"}  # fmt: skip


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeCloudKMS:
    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}
        self.keys: dict[str, bytes] = {}
        self.calls: Counter[str] = Counter()
        self.mode = "ok"
        self.released = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        server = self._start(None)
        self.endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    # -- setup

    def add_key(self, resource_id: str) -> str:
        self.keys[resource_id] = os.urandom(32)
        return resource_id

    def add_service_account(self, email: str, public_key: rsa.RSAPublicKey) -> None:
        self.service_accounts[email] = public_key

    def serve_tls(self, certfile: Path, keyfile: Path) -> int:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certfile), str(keyfile))
        server = self._start(context)
        return int(server.server_address[1])

    def _start(self, tls: ssl.SSLContext | None) -> ThreadingHTTPServer:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._servers.append(server)
        return server

    def stop(self) -> None:
        self.released.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # -- the service

    def authorised(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        credential = header[len("Bearer ") :]
        if credential == self.token:
            return True
        parts = credential.split(".")
        if len(parts) != 3:
            return False
        try:
            claims = json.loads(_b64url_decode(parts[1]))
            public_key = self.service_accounts[claims["iss"]]
            public_key.verify(
                _b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True

    def encrypt(self, name: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return b"fk1" + nonce + AESGCM(self.keys[name]).encrypt(nonce, plaintext, name.encode())

    def decrypt(self, name: str, ciphertext: bytes) -> bytes:
        if not ciphertext.startswith(b"fk1") or len(ciphertext) < 3 + 12 + 16:
            raise ValueError("bad ciphertext")
        nonce, sealed = ciphertext[3:15], ciphertext[15:]
        return AESGCM(self.keys[name]).decrypt(nonce, sealed, name.encode())


class _Handler(BaseHTTPRequestHandler):
    owner: FakeCloudKMS
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"code": status, "message": message, "status": _STATUS[status]}})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        fake = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if not path.startswith("/v1/") or ":" not in path:
            self._error(404, f"no such method {path}")
            return
        name, method = path[len("/v1/") :].rsplit(":", 1)
        fake.calls[method] += 1
        if fake.mode == "hang":
            fake.released.wait(60)
            return
        if not fake.authorised(self.headers.get("Authorization", "")) or fake.mode == "unauthenticated":
            self._error(401, "Request had invalid authentication credentials.")
            return
        if fake.mode == "deny":
            verb = "useToEncrypt" if method == "encrypt" else "useToDecrypt"
            self._error(403, f"Permission 'cloudkms.cryptoKeyVersions.{verb}' denied on resource '{name}' "
                             "(or it may not exist).")  # fmt: skip
            return
        if fake.mode == "unavailable":
            self._error(503, "The service is currently unavailable.")
            return
        if fake.mode == "malformed":
            self._send(200, b'{"ciphertext": "AAAA", "plaintext": ')
            return
        if name not in fake.keys:
            self._error(404, f"CryptoKey {name} not found.")
            return
        body = json.loads(raw or b"{}")
        if method == "encrypt":
            ciphertext = fake.encrypt(name, base64.b64decode(body.get("plaintext", "")))
            self._json(200, {"name": name + "/cryptoKeyVersions/1",
                             "ciphertext": base64.b64encode(ciphertext).decode()})  # fmt: skip
        elif method == "decrypt":
            try:
                plaintext = fake.decrypt(name, base64.b64decode(body.get("ciphertext", "")))
            except Exception:
                self._error(400, "Decryption failed: the ciphertext is invalid.")
                return
            self._json(200, {"plaintext": base64.b64encode(plaintext).decode(), "usedPrimary": True})
        else:
            self._error(404, f"no such method {method}")


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels every connection to one local port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.targets: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        client.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.targets.append(head.split(b" ", 2)[1].decode())
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pair = [client, upstream]
            while not self._stop.is_set():
                ready, _, _ = select.select(pair, [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()


def make_tls_files(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``hostname``: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysops test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def make_service_account(email: str, universe_domain: str | None = None) -> tuple[dict[str, str], rsa.RSAPublicKey]:
    """A service-account key JSON (as GOOGLE_CREDENTIALS holds) and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    info = {
        "type": "service_account",
        "project_id": "pysops-test",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": email,
        "client_id": "1",
        # never contacted: self-signed JWTs need no token exchange; a closed port if ever tried
        "token_uri": "http://127.0.0.1:9/token",
    }
    if universe_domain:
        info["universe_domain"] = universe_domain
    return info, key.public_key()
