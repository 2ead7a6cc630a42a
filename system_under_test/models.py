"""Request and response bodies of the domain API.

Requests are strict (`extra="forbid"`, no type coercion, bounded lengths) so wrong types and
unknown fields are a 422 before anything is stored. Responses are explicit models: a password
hash can never reach a client because no response model has a field for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Deliberately loose (one @, a dot in the domain, no spaces): deliverability is not our concern,
# and stricter patterns reject valid addresses.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SLUG_PATTERN = r"^[a-z0-9-]{2,40}$"
MIN_PASSWORD_LENGTH = 8
# scrypt takes the whole password; cap it so a megabyte "password" is rejected up front.
MAX_PASSWORD_LENGTH = 256


def normalize_email(email: str) -> str:
    return email.strip().lower()


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=EMAIL_PATTERN),
    AfterValidator(normalize_email),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LoginBody(StrictBody):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class TenantCreate(StrictBody):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
    name: Name


class UserCreate(StrictBody):
    email: Email
    password: Annotated[
        str,
        StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    ]
    role: Literal["admin", "member"]


class ItemWrite(StrictBody):
    """Body of POST (create) and PUT (full replacement) of an item."""

    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    quantity: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class TenantOut(BaseModel):
    id: UUID
    slug: str
    name: str
    created_at: datetime


class TenantSummary(TenantOut):
    user_count: int
    item_count: int


class UserOut(BaseModel):
    id: UUID
    email: str
    role: str
    tenant_id: UUID | None
    created_at: datetime


class ItemOut(BaseModel):
    id: UUID
    tenant_id: UUID
    name: str
    description: str
    quantity: int
    created_at: datetime
    updated_at: datetime


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_user_id: UUID | None
    tenant_id: UUID | None
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, object]
    request_id: str | None


class TenantList(BaseModel):
    tenants: list[TenantOut]
    total: int
    limit: int
    offset: int


class UserList(BaseModel):
    users: list[UserOut]
    total: int
    limit: int
    offset: int


class ItemList(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int


class Me(BaseModel):
    id: UUID
    email: str
    role: str
    tenant_id: UUID | None
    tenant_slug: str | None


class LoginResponse(BaseModel):
    token: str
    tokenType: Literal["bearer"] = "bearer"  # noqa: N815 — wire name of the OAuth2 convention
    expiresIn: int  # noqa: N815
    user: Me


class Dashboard(BaseModel):
    tenants: list[TenantSummary]
    tenants_total: int
    users_total: int
    recent_audit: list[AuditEntry]
