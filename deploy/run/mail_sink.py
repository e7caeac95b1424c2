"""The local mail sink of `make run`: an SMTP server (aiosmtpd) that stores every message it
accepts in a Maildir, read by the gateway's /dev/mail pages and the runner's "[mail]" lines.

    python deploy/run/mail_sink.py HOST:PORT DIRECTORY

A message is stored as it came, after the three headers aiosmtpd's Mailbox handler adds (X-Peer,
X-MailFrom, X-RcptTo): that handler parses each message and writes it out again through the email
package, which costs CPU the system under load needs (docs/performance.md). It runs on uvloop, as
the services do, for the same reason.
"""

import asyncio
import mailbox
import sys

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirSink:
    def __init__(self, directory: str):
        self.box = mailbox.Maildir(directory)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        headers = (f"X-Peer: {session.peer}\nX-MailFrom: {envelope.mail_from}\n"
                   f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\n")
        # Stored with the line endings the Mailbox handler wrote: a Maildir holds local text files.
        self.box.add(headers.encode() + envelope.content.replace(b"\r\n", b"\n"))
        return "250 OK"


async def serve(host: str, port: int, directory: str) -> None:
    handler = MaildirSink(directory)
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), host, port)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or ":" not in argv[0]:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[0].rsplit(":", 1)
    uvloop.run(serve(host, int(port), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
