"""Notify's CPU per mail for writing it: rendering the templates and producing the bytes that go
out over SMTP, for transfer-completed mails.

    uv run python bench/notify_render.py [--mails 1000] [--repeat 5]

"before" is how notify built a mail until 2026-11-23: an `email.message.EmailMessage` (default
policy) that aiosmtplib's `send_message` then flattened, after reading its sender and recipients
back from the headers. "after" is `notify.rendering.compose`, whose result is the bytes and the
envelope `sendmail` takes. Both render the same templates. No database, no SMTP server, one core.
No assertions (services/notify/tests/test_rendering.py checks that the two say the same): it
prints ms per mail (best of --repeat) and the ratio.
"""

import argparse
import timeit
from email.message import EmailMessage
from email.utils import formatdate

from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from notify.rendering import compose, render

SENDER = "Licensing Portal <no-reply@licensing.local>"


def mails(count: int) -> list[dict]:
    return [
        dict(
            sender=SENDER, recipient=f"rep{i}@customer-{i % 50}.example.com",
            cc=[f"buyer{i}@customer-{i % 50}.example.com"] if i % 3 == 0 else [],
            subject=f"{1 + i % 20} × Vision Pro {i % 7} transferred to Customer {i % 50} GmbH",
            template="transfer_completed", message_key=f"{i:08d}-event.{i:08d}-row",
            context={
                "from_org_name": f"Distributor {i % 5} Ltd", "to_org_name": f"Customer {i % 50} GmbH",
                "product_name": f"Vision Pro {i % 7}", "product_description": "Edge analytics licence" if i % 2 else None,
                "quantity": 1 + i % 20, "entitlement_id": f"ENT-2026-{i:05d}",
                "po_number": f"PO-{i}" if i % 4 else None, "sales_order": f"SO-{i}",
            },
        )
        for i in range(count)
    ]


def before(mail: dict) -> bytes:
    text, html = render(mail["template"], mail["context"])
    message = EmailMessage()
    message["From"] = mail["sender"]
    message["To"] = mail["recipient"]
    if mail["cc"]:
        message["Cc"] = ", ".join(mail["cc"])
    message["Subject"] = mail["subject"]
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{mail['message_key']}@licensing.notify>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # What aiosmtplib's send_message does before sendmail (server offering 8BITMIME).
    extract_sender(message)
    extract_recipients(message)
    return flatten_message(message, cte_type="8bit")


def after(mail: dict) -> bytes:
    return compose(**mail).data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    batch = mails(args.mails)
    figures = {}
    for name, write in (("before", before), ("after", after), ("templates only", lambda m: render(m["template"], m["context"]))):
        write(batch[0])  # templates loaded and compiled
        best = min(timeit.repeat(lambda w=write: [w(m) for m in batch], number=1, repeat=args.repeat))
        figures[name] = best / args.mails * 1000
        print(f"{name:>15}: {figures[name]:.3f} ms per mail")
    print(f"{'ratio':>15}: before / after = {figures['before'] / figures['after']:.1f}")


if __name__ == "__main__":
    main()
