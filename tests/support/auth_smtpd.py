"""An SMTP server that requires AUTH, for the tests (aiosmtpd), never used by Herald.

  auth_smtpd.py USER PASSWORD

Listens on a free loopback port and prints "port N" first. Then prints one line per
event, flushed at once:
  auth MECHANISM LOGIN ok|refused
  data AUTHENTICATED RECIPIENTS BYTES
AUTH is allowed without TLS (loopback only) and required before MAIL. Runs until
stdin is closed.
"""
import logging
import socket
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    # Plain-text AUTH is this server's point (loopback only): silence aiosmtpd's warnings.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    user, password = sys.argv[1].encode(), sys.argv[2].encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else "-"
        print("auth", mechanism, login, "ok" if ok else "refused", flush=True)
        # handled=False: aiosmtpd answers a refusal with its own 535 reply.
        return AuthResult(success=ok, handled=False)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            print("data", session.authenticated, ",".join(envelope.rcpt_tos), len(envelope.content), flush=True)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    print("port", port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
