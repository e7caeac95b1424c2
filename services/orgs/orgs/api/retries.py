"""Idempotency-Key scopes: a key counts per caller (org and user) and per route, so two callers
or two routes never replay each other's answers."""

from fastapi import Request

from shared.auth.tokens import Caller


def idempotency_scope(caller: Caller, request: Request) -> str:
    return f"{caller.org_id}:{caller.user_id}:{request.method} {request.url.path}"
