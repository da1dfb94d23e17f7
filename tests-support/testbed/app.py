"""The field test bed: a small API on a real Python stack that tracesplit did
not write the instrumentation of — FastAPI + SQLAlchemy + psycopg on
PostgreSQL, run under OpenTelemetry's zero-code `opentelemetry-instrument`.

Shaped like full-stack-fastapi-template's items API: a login that hands out
bearer tokens (OAuth2 password flow), UUID ids, `{"data": [...], "count": n}`
lists, a health path that is not `/health`, and its own /openapi.json. Causes are planted by environment
variables, so the tests can check every number tracesplit reports against a
value they set:

- TESTBED_DSN           postgresql+psycopg://… (required)
- TESTBED_POOL_SIZE, TESTBED_MAX_OVERFLOW, TESTBED_POOL_TIMEOUT
                        SQLAlchemy's QueuePool: small values exhaust it under
                        load, and the handler raises sqlalchemy.exc.TimeoutError
- TESTBED_HOLD_MS       every item detail holds its connection this long
                        (SELECT pg_sleep), so the pool runs out under load
- TESTBED_CHECK_MS      a delete's dependency check takes this long inside its
                        one statement (a HAVING pg_sleep)
- TESTBED_ERROR_LOG     a file: one line per unhandled exception, "Type: message"
- TESTBED_USER, TESTBED_PASSWORD   the one account (default admin@example.com / changethis)
- TESTBED_TOKEN_TTL_S   a token's life (default 3600); expired tokens answer 401

Both SQLAlchemy's and psycopg's instrumentations are installed, so every
statement is spanned twice; the list runs a pagination `SELECT count(*)`; a
delete runs a dependency check (`SELECT count(*) FROM orders WHERE item_id`)
and answers 409 while orders reference the item; GET /items/{id}/explode
raises on purpose.
"""

import os
import secrets
import time
import uuid

from fastapi import Depends, FastAPI, Form, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import create_engine, text

DSN = os.environ["TESTBED_DSN"]
engine = create_engine(
    DSN,
    pool_size=int(os.environ.get("TESTBED_POOL_SIZE", "5")),
    max_overflow=int(os.environ.get("TESTBED_MAX_OVERFLOW", "10")),
    pool_timeout=float(os.environ.get("TESTBED_POOL_TIMEOUT", "30")),
)
HOLD_S = float(os.environ.get("TESTBED_HOLD_MS", "0")) / 1000.0
CHECK_S = float(os.environ.get("TESTBED_CHECK_MS", "0")) / 1000.0
ERROR_LOG = os.environ.get("TESTBED_ERROR_LOG")
USER = os.environ.get("TESTBED_USER", "admin@example.com")
PASSWORD = os.environ.get("TESTBED_PASSWORD", "changethis")
TOKEN_TTL_S = float(os.environ.get("TESTBED_TOKEN_TTL_S", "3600"))

app = FastAPI(title="testbed", version="1.0.0")
tokens: dict = {}


@app.middleware("http")
async def log_unhandled(request, call_next):
    """Counts what the app raised, as an operator reads it in the app's log."""
    try:
        return await call_next(request)
    except Exception as e:  # noqa: BLE001 - re-raised below
        if ERROR_LOG:
            with open(ERROR_LOG, "a", encoding="utf-8") as f:
                module, name = type(e).__module__, type(e).__qualname__
                kind = name if module == "builtins" else f"{module}.{name}"
                f.write(f"{kind}: {str(e).splitlines()[0] if str(e) else ''}\n")
        raise


# Declared as FastAPI apps do, so /openapi.json names the login (an OAuth2
# password flow); a missing token is the same 403 as a wrong one.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)


def current_user(token: str | None = Depends(oauth2)):
    expires = tokens.get(token) if token else None
    if expires is None:
        raise HTTPException(status_code=403, detail="Could not validate credentials")
    if expires < time.monotonic():
        raise HTTPException(status_code=401, detail="Token expired")
    return USER


class ItemIn(BaseModel):
    title: str
    description: str | None = None


class ItemOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None = None
    owner_id: uuid.UUID


class ItemsOut(BaseModel):
    data: list[ItemOut]
    count: int


def item_json(row):
    return {"id": str(row.id), "title": row.title, "description": row.description,
            "owner_id": str(row.owner_id)}


@app.get("/api/v1/utils/health-check/")
def health():
    return True


@app.post("/api/v1/login/access-token")
def login(username: str = Form(), password: str = Form()):
    if username != USER or password != PASSWORD:
        raise HTTPException(status_code=400, detail="Incorrect email or password")
    token = secrets.token_urlsafe(24)
    tokens[token] = time.monotonic() + TOKEN_TTL_S
    return {"access_token": token, "token_type": "bearer"}


@app.get("/api/v1/items/", response_model=ItemsOut)
def list_items(skip: int = 0, limit: int = 100, user: str = Depends(current_user)):
    with engine.connect() as c:
        owner = c.execute(text("SELECT id FROM users WHERE email = :e"), {"e": user}).scalar_one()
        count = c.execute(text("SELECT count(*) FROM item WHERE owner_id = :o"), {"o": owner}).scalar_one()
        rows = c.execute(
            text("SELECT id, title, description, owner_id FROM item WHERE owner_id = :o "
                 "ORDER BY title OFFSET :s LIMIT :l"),
            {"o": owner, "s": skip, "l": limit},
        ).all()
    return {"data": [item_json(r) for r in rows], "count": count}


@app.post("/api/v1/items/", response_model=ItemOut)
def create_item(item: ItemIn, user: str = Depends(current_user)):
    with engine.begin() as c:
        owner = c.execute(text("SELECT id FROM users WHERE email = :e"), {"e": user}).scalar_one()
        row = c.execute(
            text("INSERT INTO item (id, title, description, owner_id) VALUES (:i, :t, :d, :o) "
                 "RETURNING id, title, description, owner_id"),
            {"i": uuid.uuid4(), "t": item.title, "d": item.description, "o": owner},
        ).one()
    return item_json(row)


def find_item(c, item_id: uuid.UUID):
    row = c.execute(text("SELECT id, title, description, owner_id FROM item WHERE id = :i"),
                    {"i": item_id}).one_or_none()
    if row is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return row


@app.get("/api/v1/items/{item_id}", response_model=ItemOut)
def read_item(item_id: uuid.UUID, user: str = Depends(current_user)):
    # Two statements: the item, then its owner.
    with engine.connect() as c:
        row = find_item(c, item_id)
        if HOLD_S > 0:
            c.execute(text("SELECT pg_sleep(:s)"), {"s": HOLD_S})
        else:
            c.execute(text("SELECT email FROM users WHERE id = :o"), {"o": row.owner_id}).scalar_one()
    return item_json(row)


@app.put("/api/v1/items/{item_id}", response_model=ItemOut)
def update_item(item_id: uuid.UUID, item: ItemIn, user: str = Depends(current_user)):
    with engine.begin() as c:
        find_item(c, item_id)
        row = c.execute(
            text("UPDATE item SET title = :t, description = :d WHERE id = :i "
                 "RETURNING id, title, description, owner_id"),
            {"t": item.title, "d": item.description, "i": item_id},
        ).one()
    return item_json(row)


@app.delete("/api/v1/items/{item_id}")
def delete_item(item_id: uuid.UUID, user: str = Depends(current_user)):
    with engine.begin() as c:
        find_item(c, item_id)
        # The dependency check: orders that still reference the item.
        # An aggregate without GROUP BY is one group whatever the rows, so
        # HAVING runs the planted sleep exactly once, inside this statement.
        check, params = "SELECT count(*) FROM orders WHERE item_id = :i", {"i": item_id}
        if CHECK_S > 0:
            check, params = check + " HAVING pg_sleep(:s)::text IS NOT NULL", {**params, "s": CHECK_S}
        orders = c.execute(text(check), params).scalar_one()
        if orders > 0:
            raise HTTPException(status_code=409, detail=f"Item is in {orders} order(s)")
        c.execute(text("DELETE FROM item WHERE id = :i"), {"i": item_id})
    return {"message": "Item deleted successfully"}


@app.get("/api/v1/items/{item_id}/explode")
def explode(item_id: uuid.UUID, user: str = Depends(current_user)):
    raise RuntimeError(f"planted failure for item {item_id}")
