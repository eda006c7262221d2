"""A loopback HTTPS fake of Azure Key Vault (keys API) and of the Entra ID token endpoint.

The official SDKs talk to it unmodified: azure-identity's ``ClientSecretCredential`` (through
``DefaultAzureCredential``/``EnvironmentCredential`` with ``AZURE_AUTHORITY_HOST`` pointing here)
fetches a token from ``/<tenant>/oauth2/v2.0/token``, and azure-keyvault-keys' clients get the 401
bearer challenge first, then call ``GET /keys/{name}[/{version}]`` and
``POST /keys/{name}/{version}/encrypt|decrypt``. RSA-OAEP-256 is done with ``cryptography``.

``fault`` switches the vault's behaviour: ``None``, ``"forbidden"`` (403 on every key call),
``"forbid_get"`` (403 on GetKey only: the SDK then encrypts remotely), ``"malformed"`` (200 with a
body that is not JSON), ``"no_value"`` (GetKey 403, encrypt/decrypt 200 JSON without ``value``),
``"hang"`` (never answers until the fake stops).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

TENANT = "00000000-1111-2222-3333-444444444444"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-client-secret"

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a 127.0.0.1 server certificate signed by it: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysops test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


class FakeAzure:
    """Key Vault + token endpoint on one loopback HTTPS port."""

    def __init__(self, tls_dir: Path) -> None:
        self.ca_path, cert_path, key_path = make_tls(tls_dir)
        self.keys: dict[str, list[tuple[str, rsa.RSAPrivateKey]]] = {}
        self.calls: Counter[str] = Counter()
        self.fault: str | None = None
        self.token = secrets.token_urlsafe(24)
        self.client_secret = CLIENT_SECRET
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        # the vault and the identity endpoint are two servers, as in Azure: "vault down" keeps login up
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._threads: dict[str, threading.Thread] = {}
        for role in ("vault", "login"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            server.socket = context.wrap_socket(server.socket, server_side=True)
            self._servers[role] = server
            self._threads[role] = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
        self.port = self._servers["vault"].server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.login_url = f"https://127.0.0.1:{self._servers['login'].server_address[1]}"

    # --- lifecycle and helpers

    def start(self) -> FakeAzure:
        for thread in self._threads.values():
            thread.start()
        return self

    def stop(self, role: str | None = None) -> None:
        """Stop the vault, the login endpoint, or (None) both; idempotent."""
        self._release.set()
        for name in [role] if role else list(self._servers):
            server = self._servers.pop(name, None)
            if server is not None:
                server.shutdown()
                server.server_close()
                self._threads[name].join(timeout=5)

    def add_key(self, name: str) -> str:
        """A new RSA-2048 version of key ``name``; returns the version id."""
        version = secrets.token_hex(16)
        self.keys.setdefault(name, []).append((version, rsa.generate_private_key(65537, 2048)))
        return version

    def private_key(self, name: str, version: str) -> rsa.RSAPrivateKey:
        return dict(self.keys[name])[version]

    def key_url(self, name: str, version: str = "") -> str:
        return f"{self.url}/keys/{name}" + (f"/{version}" if version else "")

    def env(self) -> dict[str, str]:
        """Environment pointing azure-identity and pysops at this fake."""
        return {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.login_url,
            "PYSOPS_AZURE_DISABLE_INSTANCE_DISCOVERY": "true",
            "PYSOPS_AZURE_KV_VERIFY_CHALLENGE_RESOURCE": "false",
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
        }

    # --- request handling

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        self._send(h, status, {"error": {"code": code, "message": message}})

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0] == TENANT:
            self._identity(h, method, segments[1:], raw)
            return
        if not segments or segments[0] != "keys":
            self._error(h, 404, "NotFound", "no such route")
            return
        auth = h.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            self.calls["challenge"] += 1
            self._send(
                h,
                401,
                {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer token."}},
                {
                    "WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
                    'resource="https://vault.azure.net"'
                },
            )
            return
        self._vault(h, method, segments[1:], raw)

    def _identity(self, h: BaseHTTPRequestHandler, method: str, rest: list[str], raw: bytes) -> None:
        base = f"{self.login_url}/{TENANT}"
        if method == "GET" and rest[-2:] == [".well-known", "openid-configuration"]:
            self.calls["openid"] += 1
            self._send(
                h,
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                },
            )
            return
        if method == "POST" and rest == ["oauth2", "v2.0", "token"]:
            self.calls["token"] += 1
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                self._send(
                    h,
                    401,
                    {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
                )
                return
            self._send(
                h, 200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": self.token}
            )
            return
        self._error(h, 404, "NotFound", "no such identity route")

    def _vault(self, h: BaseHTTPRequestHandler, method: str, rest: list[str], raw: bytes) -> None:
        op = "get" if method == "GET" else (rest[-1] if rest else "")
        self.calls[op] += 1
        if self.fault == "hang":
            self._release.wait(30)
            return
        if self.fault == "forbidden" or (self.fault in ("forbid_get", "no_value") and op == "get"):
            self._error(h, 403, "Forbidden", f"The user does not have keys {op} permission on key vault")
            return
        if self.fault == "malformed":
            self._send(h, 200, b"<html>this is not a vault</html>")
            return
        name = rest[0] if rest else ""
        versions = self.keys.get(name)
        if not versions:
            self._error(h, 404, "KeyNotFound", f"A key with (name/id) {name} was not found in this key vault.")
            return
        if method == "GET":
            version = rest[1] if len(rest) > 1 else versions[-1][0]
        else:
            version = rest[1] if len(rest) == 3 else versions[-1][0]
        known = dict(versions)
        if version not in known:
            self._error(h, 404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found.")
            return
        key = known[version]
        kid = self.key_url(name, version)
        if method == "GET" and len(rest) <= 2:
            numbers = key.public_key().public_numbers()
            self._send(
                h,
                200,
                {
                    "key": {
                        "kid": kid,
                        "kty": "RSA",
                        "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                        "e": b64url(numbers.e.to_bytes(3, "big")),
                    },
                    "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000},
                },
            )
            return
        if method != "POST" or op not in ("encrypt", "decrypt"):
            self._error(h, 400, "BadParameter", "unsupported operation")
            return
        body = json.loads(raw or b"{}")
        if body.get("alg") != "RSA-OAEP-256":
            self._error(h, 400, "BadParameter", f"unsupported algorithm {body.get('alg')}")
            return
        if self.fault == "no_value":
            self._send(h, 200, {"kid": kid})
            return
        value = unb64url(body["value"])
        try:
            result = key.public_key().encrypt(value, OAEP) if op == "encrypt" else key.decrypt(value, OAEP)
        except ValueError:
            self._error(h, 400, "BadParameter", "Decryption failed")
            return
        self._send(h, 200, {"kid": kid, "value": b64url(result)})
