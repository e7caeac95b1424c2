"""An org's Admins see the delivery state of the mail sent to their people, and send a dead letter
again; nobody sees another org's."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.events.identity import InviteCreated
from shared.testing import eventually


def an_invite(org_id: uuid.UUID, email: str) -> InviteCreated:
    return InviteCreated(invite_id=uuid.uuid4(), org_id=org_id, email=email, role="viewer", token=uuid.uuid4().hex,
                         expires_at=datetime.now(UTC) + timedelta(days=3))


def signed_in(issue_token, org: uuid.UUID, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(org=str(org), role=role)}"}


async def test_admins_see_their_orgs_dead_letters_and_send_them_again(
    mail_server, notify_app, publish, new_email, issue_token
):
    org, other_org = uuid.uuid4(), uuid.uuid4()
    email = new_email("bounced")
    mail_server.refusing = True
    async with notify_app(mail_server, send_max_attempts=2) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as api:
            await publish(an_invite(org, email))
            admin = signed_in(issue_token, org)

            async def failed():
                response = await api.get("/api/v1/notifications", params={"state": "failed"}, headers=admin)
                return response.json()["items"]

            [dead] = await eventually(failed)
            assert (dead["recipient"], dead["state"], dead["attempts"]) == (email, "failed", 2)
            assert "550" in dead["last_error"] and dead["next_attempt_at"] is None
            assert dead["subject"] == "Your invitation to join the licensing portal"

            stranger = await api.get("/api/v1/notifications", headers=signed_in(issue_token, other_org))
            assert stranger.status_code == 200 and stranger.json()["items"] == []
            assert (await api.post(f"/api/v1/notifications/{dead['id']}/retry",
                                   headers=signed_in(issue_token, other_org))).status_code == 404
            viewer = await api.get("/api/v1/notifications", headers=signed_in(issue_token, org, "viewer"))
            assert viewer.status_code == 403
            assert (await api.get("/api/v1/notifications")).status_code == 401
            assert (await api.get("/api/v1/notifications", params={"state": "lost"}, headers=admin)).status_code == 422

            mail_server.refusing = False
            retried = await api.post(f"/api/v1/notifications/{dead['id']}/retry", headers=admin)
            assert retried.status_code == 200 and retried.json()["state"] == "queued"
            assert retried.json()["attempts"] == 0

            async def delivered():
                return mail_server.to(email)

            [mail] = await eventually(delivered)
            assert "accept-invite?token=" in mail.text()

            async def sent():
                response = await api.get("/api/v1/notifications", params={"state": "sent"}, headers=admin)
                return [item for item in response.json()["items"] if item["id"] == dead["id"]]

            await eventually(sent)
            again = await api.post(f"/api/v1/notifications/{dead['id']}/retry", headers=admin)
            assert again.status_code == 409
            assert (await api.post(f"/api/v1/notifications/{uuid.uuid4()}/retry", headers=admin)).status_code == 404


async def test_the_list_pages_newest_first(mail_server, notify_app, publish, new_email, issue_token):
    org = uuid.uuid4()
    emails = [new_email(f"paged-{i}") for i in range(5)]
    async with notify_app(mail_server) as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as api:
            for email in emails:
                await publish(an_invite(org, email))
            admin = signed_in(issue_token, org)

            async def all_sent():
                response = await api.get("/api/v1/notifications", params={"limit": 50}, headers=admin)
                items = response.json()["items"]
                return len(items) == 5 and all(item["state"] == "sent" for item in items)

            await eventually(all_sent)
            seen, cursor = [], None
            while True:
                params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                page = (await api.get("/api/v1/notifications", params=params, headers=admin)).json()
                seen += [item["recipient"] for item in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
    assert sorted(seen) == sorted(emails) and len(seen) == 5
