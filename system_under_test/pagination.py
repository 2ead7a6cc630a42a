"""`limit`/`offset` query parameters shared by every list endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
# Deep OFFSET scans are linear in PostgreSQL; past this, callers should narrow their query.
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


# async: a sync dependency would cost a worker-thread hop per request.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]
