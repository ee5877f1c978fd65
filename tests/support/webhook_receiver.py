"""A webhook receiver on 127.0.0.1 for tests, over HTTP or HTTPS, and the TLS material for it.

The receiver records every request (its request line, headers, body and, over TLS, the server
name the client asked for) and answers from a script: failures first, then success, or a
redirect elsewhere.
"""

import asyncio
import datetime
import ssl
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that fails its first `failures` calls with 500, or
    answers every call with a redirect to `redirect_to`; over TLS when given `tls`."""

    def __init__(
        self,
        failures: int = 0,
        *,
        redirect_to: str | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.failures = failures
        self.redirect_to = redirect_to
        self.tls = tls
        self.host = host
        self.calls: list[dict] = []
        self.server_names: list[str | None] = []
        self.arrived: asyncio.Queue[dict] = asyncio.Queue()
        if tls is not None:
            tls.sni_callback = self._record_server_name

    def _record_server_name(self, _sock: object, name: str | None, _context: object) -> None:
        self.server_names.append(name)

    async def __aenter__(self) -> "Receiver":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://{self.host}:{self.port}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ": " in line:
                name, value = line.split(": ", 1)
                headers[name.lower()] = value
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        failing = len(self.calls) < self.failures
        call = {"request_line": lines[0], "headers": headers, "body": body, "failed": failing}
        self.calls.append(call)
        if self.redirect_to is not None:
            status = b"302 Found\r\nLocation: " + self.redirect_to.encode()
        elif failing:
            status = b"500 Internal Server Error"
        else:
            status = b"204 No Content"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await self.arrived.put(call)

    async def next_call(self) -> dict:
        return await asyncio.wait_for(self.arrived.get(), 15)


@dataclass
class LocalAuthority:
    """A certificate authority of the test's own, and certificates for names it signs."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ChatBridge test CA")])
        self.certificate = (
            _builder(name, name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def client_context(self) -> ssl.SSLContext:
        """A client's context that trusts this authority only (and checks host names)."""
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        return ssl.create_default_context(cadata=pem)

    def server_context(self, dns_name: str, tmp_path) -> ssl.SSLContext:
        """A server's context presenting a certificate for `dns_name`, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
        certificate = (
            _builder(subject, self.certificate.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_file = tmp_path / f"{dns_name}.pem"
        key_file = tmp_path / f"{dns_name}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context


def _builder(subject: x509.Name, issuer: x509.Name, public_key: object) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
