"""The development run (`make run`): every service, the gateway and a local mail sink under supervisord.

    python deploy/run/run.py          (run it with the workspace's Python: `make run` does)

1. checks PostgreSQL and RabbitMQ (`python -m shared.devtools check`: says which is down and how
   to start it, or where one is not installed, how to get it; on Debian or Ubuntu as root it offers
   to install and start it, and LICENSING_INSTALL_SERVERS=1 does so without asking), 2. creates each service's database and migrates it (`python -m shared.devtools
   prepare`), 3. writes a supervisord config from supervisord.conf.template into the run directory
   and runs supervisord in the foreground: it restarts a crashed process, and Ctrl-C or SIGTERM
   (to this process or to supervisord) stops every process cleanly. Once every /readyz answers, it
   prints where the gateway is; while it runs, it prints a line for every mail the sink catches.

Settings (environment variables; defaults in brackets, documented in the README):
    POSTGRES_DSN, AMQP_URL, DATABASE_PREFIX, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT   read by the services
    <SERVICE>_AMQP_PASSWORD [a development one]   a service's broker password: each service connects as
        its own broker user, created (with its permissions) on a local broker by `prepare`
    LICENSING_ADMIN_EMAIL [admin@example.com], LICENSING_ADMIN_PASSWORD [licensing-dev-password]
    EVENT_SECRETS_KEY [a development key]   Fernet keys sealing invite tokens between the services
    SMTP_HOST   if set, no mail sink is started and the services send to SMTP_HOST:SMTP_PORT
    SMTP_PORT [1025]   the sink listens on 127.0.0.1:SMTP_PORT when SMTP_HOST is not set
    LICENSING_PORT_BASE [8000]   the gateway's port; service ports keep their offsets from it
    <SERVICE>_PORT   one service's port (GATEWAY_PORT, ORGS_PORT, ...), wins over the base
    LICENSING_BIND_HOST [127.0.0.1]   the address the services listen on
    LICENSING_RUN_DIR [.run]   generated config, logs (logs/), mail (mail/), supervisor socket
    LICENSING_RUN_LOGS [files]   `files`: one log per process in <run dir>/logs; `stdout`: all to stdout
    LICENSING_READY_TIMEOUT [120]   seconds to wait for every /readyz before warning
    LICENSING_MAIL_NICE [10]   the niceness of notify and the mail sink (0: as the rest)
    LICENSING_INSTALL_SERVERS [ask]   1: install a missing PostgreSQL or RabbitMQ without asking; 0: never
"""

from __future__ import annotations

import ctypes
import os
import signal
import string
import subprocess
import sys
import time
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

from shared.devtools import port_listening, service_ready
from shared.settings import DEVELOPMENT_EVENT_SECRETS_KEY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("supervisord.conf.template")

DEFAULTS = {
    "LICENSING_ADMIN_EMAIL": "admin@example.com",
    "LICENSING_ADMIN_PASSWORD": "licensing-dev-password",
    "EVENT_SECRETS_KEY": DEVELOPMENT_EVENT_SECRETS_KEY,  # one key for every process
    "LOG_LEVEL": "INFO",
    "SMTP_PORT": "1025",
}

# Started in this order; the gateway last.
SERVICES = ("orgs", "identity", "entitlements", "transfers", "audit", "notify", "devices", "billing", "gateway")


def service_ports(environ: dict[str, str]) -> dict[str, int]:
    from shared.settings import SERVICE_PORTS

    base = int(environ.get("LICENSING_PORT_BASE", SERVICE_PORTS["gateway"]))
    ports = {}
    for name in SERVICES:
        override = environ.get(f"{name.upper()}_PORT")
        ports[name] = int(override) if override else base + SERVICE_PORTS[name] - SERVICE_PORTS["gateway"]
    return ports


def _conf_value(value: str | Path) -> str:
    """supervisord interpolates %(...)s in its values: a literal percent sign is written twice."""
    return str(value).replace("%", "%%")


def _program(name: str, command: list[str], run_dir: Path, logs: str, environ: dict[str, str]) -> str:
    password = environ.get(f"{name.upper()}_AMQP_PASSWORD")
    if password and '"' in password:  # a value of supervisord's environment= is quoted
        raise SystemExit(f"run: {name.upper()}_AMQP_PASSWORD may not hold a double quote")
    own = f'environment=AMQP_PASSWORD="{_conf_value(password)}"\n' if password else ""
    if logs == "stdout":
        output = "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0"
    else:
        output = f"stdout_logfile={_conf_value(run_dir / 'logs' / f'{name}.log')}\nstdout_logfile_maxbytes=20MB\nstdout_logfile_backups=2"
    return f"""[program:{name}]
command={_conf_value(subprocess.list2cmdline(command))}
directory={_conf_value(ROOT)}
autostart=true
autorestart=true
startsecs=2
startretries=20
stopsignal=TERM
stopwaitsecs=10
stopasgroup=true
killasgroup=true
redirect_stderr=true
{own}{output}
"""


# Mail is sent after the fact (notify's queue), so on a machine running everything, a transfer's
# path (gateway, transfers, entitlements, audit) goes first when the CPU is short: mail then waits
# and catches up. Nothing changes while the CPU is not short.
MAIL_PROGRAMS = ("notify", "mail-sink")


def _niced(name: str, command: list[str], environ: dict[str, str]) -> list[str]:
    nice = int(environ.get("LICENSING_MAIL_NICE", "10"))
    return ["nice", "-n", str(nice), *command] if name in MAIL_PROGRAMS and nice else command


def supervisord_config(environ: dict[str, str], ports: dict[str, int], run_dir: Path, sink: bool) -> str:
    logs = environ.get("LICENSING_RUN_LOGS", "files")
    host = environ.get("LICENSING_BIND_HOST", "127.0.0.1")
    log_level = environ["LOG_LEVEL"].lower()
    programs = []
    if sink:
        programs.append(
            _program(
                "mail-sink",
                _niced("mail-sink", [sys.executable, str(Path(__file__).with_name("mail_sink.py")),
                                     f"127.0.0.1:{environ['SMTP_PORT']}", str(run_dir / "mail")], environ),
                run_dir,
                logs,
                environ,
            )
        )
    for name in SERVICES:
        programs.append(
            _program(
                name,
                _niced(name, [sys.executable, "-m", "uvicorn", "--factory", f"{name}.main:create_app", "--host", host,
                              "--port", str(ports[name]), "--log-level", log_level, "--no-access-log",
                              # longer than the gateway keeps idle connections (gateway.proxy), so it
                              # never sends a request on a connection the service is closing
                              "--timeout-keep-alive", "75",
                              "--timeout-graceful-shutdown", "5"], environ),
                run_dir,
                logs,
                environ,
            )
        )
    return string.Template(TEMPLATE.read_text()).substitute(
        run_dir=_conf_value(run_dir), programs="\n".join(programs)
    )


def _die_with_parent() -> None:
    """supervisord gets SIGTERM if this runner dies without cleaning up (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class MailWatcher:
    """Prints one line per mail the local sink stored in its Maildir (deploy/run/mail_sink.py).
    Only the headers are read: parsing whole mails would cost this process CPU under load."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.seen: set[str] = set()
        self._headers = BytesHeaderParser()

    def poll(self) -> None:
        new = self.directory / "new"  # where the sink delivers
        if not new.is_dir():
            return
        for entry in os.scandir(new):
            if entry.name in self.seen or entry.name.startswith("."):
                continue
            self.seen.add(entry.name)
            try:
                with open(entry.path, "rb") as stream:
                    headers = self._headers.parse(stream)
                subject = str(make_header(decode_header(headers.get("Subject", ""))))
                print(f"[mail] to {headers.get('To', '?')}: {subject}  ({new})", flush=True)
            except Exception as error:  # a mail the sink could not parse: say so, keep watching
                print(f"[mail] unreadable message {entry.name}: {error!r}", flush=True)


def main() -> int:
    environ = dict(os.environ)
    for key, value in DEFAULTS.items():
        environ.setdefault(key, value)
    run_dir = Path(environ.get("LICENSING_RUN_DIR", ROOT / ".run")).resolve()
    environ["LICENSING_RUN_DIR"] = str(run_dir)
    ports = service_ports(environ)

    # Every process learns where the others are (the gateway routes to them).
    for name, port in ports.items():
        environ[f"{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    sink = not environ.get("SMTP_HOST")
    if sink:
        environ["SMTP_HOST"] = "127.0.0.1"
        environ.setdefault("LICENSING_DEV_MAIL", "1")  # the gateway shows what the sink caught at /dev/mail
    environ["PYTHONUNBUFFERED"] = "1"

    busy = {name: port for name, port in ports.items() if port_listening(port)}
    if sink and port_listening(int(environ["SMTP_PORT"])):
        busy["mail-sink"] = int(environ["SMTP_PORT"])
    if busy:
        listing = ", ".join(f"{name} {port}" for name, port in busy.items())
        print(
            f"run: ports already in use ({listing}). Is another `make run` going? Stop it, or choose other "
            "ports with LICENSING_PORT_BASE (or <SERVICE>_PORT, SMTP_PORT).",
            file=sys.stderr,
        )
        return 1

    # `python -m shared.devtools check` then `prepare`, in this process (one interpreter start less).
    os.environ.update(environ)
    from shared import devtools

    for step in ("check", "prepare"):
        code = devtools.main([step])
        if code != 0:
            print(f"run: `python -m shared.devtools {step}` failed; nothing started.", file=sys.stderr)
            return code

    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    if sink:  # a Maildir: the sink only creates its folders when the directory does not exist yet
        for folder in ("tmp", "new", "cur"):
            (run_dir / "mail" / folder).mkdir(parents=True, exist_ok=True)
    config = run_dir / "supervisord.conf"
    config.write_text(supervisord_config(environ, ports, run_dir, sink))

    supervisor = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(config)],
        env=environ,
        cwd=ROOT,
        preexec_fn=_die_with_parent,
    )

    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            print(f"\nrun: {signal.Signals(signum).name} received, stopping every process...", flush=True)
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)

    print(f"run: starting {', '.join(ports)}{' and a mail sink' if sink else ''} (config {config})", flush=True)
    waiting = dict(ports)
    deadline = time.monotonic() + float(environ.get("LICENSING_READY_TIMEOUT", "120"))
    warned = False
    mail = MailWatcher(run_dir / "mail") if sink else None
    while supervisor.poll() is None:
        if waiting and not stopping:
            waiting = {name: port for name, port in waiting.items() if not service_ready(port)}
            if not waiting:
                _announce(environ, ports, run_dir, sink)
            elif time.monotonic() > deadline and not warned:
                warned = True
                print(
                    f"run: still not ready: {', '.join(waiting)}; see {run_dir / 'logs'} (still waiting)",
                    file=sys.stderr,
                    flush=True,
                )
        if mail is not None:
            mail.poll()
        time.sleep(0.5)
    code = supervisor.wait()
    print(f"run: stopped (supervisord exit code {code}).", flush=True)
    return 0 if stopping else code


def _announce(environ: dict[str, str], ports: dict[str, int], run_dir: Path, sink: bool) -> None:
    lines = [
        "",
        f"run: ready. The gateway is at http://127.0.0.1:{ports['gateway']}  (API: /api/v1/...)",
        f"     admin login: {environ['LICENSING_ADMIN_EMAIL']} / {environ['LICENSING_ADMIN_PASSWORD']}",
        "     services: " + ", ".join(f"{name} :{port}" for name, port in ports.items() if name != "gateway"),
        f"     mail: {'local sink on 127.0.0.1:' + environ['SMTP_PORT'] + ', stored in ' + str(run_dir / 'mail') if sink else environ['SMTP_HOST'] + ':' + environ['SMTP_PORT']}",
    ]
    if environ.get("LICENSING_RUN_LOGS", "files") != "stdout":
        lines.append(f"     logs: {run_dir / 'logs'}/<process>.log")
    lines.append(f"     status: .venv/bin/supervisorctl -c {run_dir / 'supervisord.conf'} status")
    lines.append("     Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
