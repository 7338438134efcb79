#!/usr/bin/python3
"""An SMTP server on loopback for the notifications tests (aiosmtpd):
each message it accepts is written to DIR/N.eml (envelope sender and
recipients, then the message). Prints "ready" when it listens; runs until
stdin closes.

    sink.py PORT DIR [--tls CERT KEY] [--auth USER PASSWORD]

With --tls, STARTTLS is required; with --auth, AUTH (after STARTTLS) is.
"""

import argparse
import ssl
import sys
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        head = f"X-Envelope-From: {envelope.mail_from}\n"
        head += "".join(f"X-Envelope-To: {r}\n" for r in envelope.rcpt_tos)
        path = self.directory / f"{self.count}.eml"
        path.write_bytes(head.encode() + envelope.original_content)
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("dir")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    a = p.parse_args()
    kwargs = {}
    if a.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*a.tls)
        kwargs.update(tls_context=context, require_starttls=True)
    if a.auth:
        user, password = (s.encode() for s in a.auth)

        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (user, password)
            return AuthResult(success=ok)

        kwargs.update(authenticator=check, auth_required=True, auth_require_tls=True)
    controller = Controller(Sink(a.dir), hostname="127.0.0.1", port=a.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
