"""Users, their roles per project and their API tokens (stored hashed); who a token is.

Local single-user mode needs none of this: with no users in the store, the team server
trusts its network as before, and the local API acts as the OS user. Once a user exists,
the team server asks every caller for a token (or a session) and checks its roles.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from steward._operations import operation
from steward.errors import AlreadyExists, InvalidInput, NotFound, did_you_mean
from steward.govern._access import ROLES
from steward.govern._records import NewUserToken, Principal, User, UserToken
from steward.service import Service
from steward.store import tables
from steward.validation import check_name

us, ut, rg = tables.users, tables.user_tokens, tables.role_grants
TOKEN_PREFIX = "stu_"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def token_hash(secret: str) -> str:
    """Return the sha256 under which a user token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of a password, as stored."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Return True when ``password`` is the one ``stored`` was made from (constant time)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        found = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found.hex(), digest)


def _check_roles(roles: dict[str, list[str]]) -> dict[str, list[str]]:
    for project, names in roles.items():
        if project != "*":
            check_name(project, "project")
        for name in names:
            if name not in ROLES:
                raise InvalidInput(
                    f"Unknown role {name!r}.{did_you_mean(name, ROLES)} Roles: {', '.join(ROLES)}."
                )
    return roles


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(us).where(us.c.name == name)).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(us.c.name))]
        raise NotFound(f"User {name!r} does not exist.{did_you_mean(name, names)}")
    return row


def _roles(conn: Connection, user_id: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for r in conn.execute(
        select(rg).where(rg.c.user_id == user_id).order_by(rg.c.project, rg.c.role)
    ):
        found.setdefault(r.project, []).append(r.role)
    return found


class UserOps(Service):
    """Operations on users, roles and tokens (admins only, on the team server)."""

    @operation("POST", "/users", tag="users")
    def create_user(
        self, name: str, roles: dict[str, list[str]] | None = None, password: str | None = None
    ) -> User:
        """Return a new user with roles per project ('*': every project)."""
        check_name(name, "user")
        roles = _check_roles(roles or {})
        if password is not None and len(password) < 12:
            raise InvalidInput("A password needs at least 12 characters; a passphrase is best.")
        with self.store.write() as tx:
            try:
                with tx.conn.begin_nested():
                    result = tx.conn.execute(
                        insert(us).values(
                            name=name,
                            password_hash=hash_password(password) if password else None,
                            disabled=False,
                            created_at=tx.now,
                            created_by=tx.actor,
                        )
                    )
            except SAIntegrityError as exc:
                raise AlreadyExists(f"A user named {name!r} exists already.") from exc
            user_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            for project, names in roles.items():
                for role in names:
                    tx.conn.execute(
                        insert(rg).values(
                            user_id=user_id,
                            role=role,
                            project=project,
                            granted_at=tx.now,
                            granted_by=tx.actor,
                        )
                    )
            # The event records who and which roles; never the password or its hash.
            tx.emit("user.created", "user", name, roles=roles, password=password is not None)
        return self.get_user(name)

    @operation("GET", "/users/{name}", tag="users")
    def get_user(self, name: str) -> User:
        """Return a user and their roles."""
        with self.store.read() as conn:
            row = _user_row(conn, name)
            return User(
                id=row.id,
                name=row.name,
                roles=_roles(conn, row.id),
                has_password=row.password_hash is not None,
                disabled=row.disabled,
                created_at=row.created_at,
                created_by=row.created_by,
            )

    @operation("GET", "/users", tag="users")
    def list_users(self) -> list[User]:
        """Return every user, by name."""
        with self.store.read() as conn:
            names = list(conn.execute(select(us.c.name).order_by(us.c.name)).scalars())
        return [self.get_user(n) for n in names]

    @operation("PUT", "/users/{name}/roles/{role}", tag="users")
    def grant_role(self, name: str, role: str, project: str = "*") -> User:
        """Return the user after granting ``role`` on ``project`` ('*': every project)."""
        _check_roles({project: [role]})
        with self.store.write() as tx:
            row = _user_row(tx.conn, name)
            exists = tx.conn.execute(
                select(rg).where(rg.c.user_id == row.id, rg.c.role == role, rg.c.project == project)
            ).first()
            if exists is None:
                tx.conn.execute(
                    insert(rg).values(
                        user_id=row.id,
                        role=role,
                        project=project,
                        granted_at=tx.now,
                        granted_by=tx.actor,
                    )
                )
            tx.emit("user.role.granted", "user", name, role=role, project=project)
        return self.get_user(name)

    @operation("DELETE", "/users/{name}/roles/{role}", tag="users")
    def revoke_role(self, name: str, role: str, project: str = "*") -> User:
        """Return the user after taking ``role`` on ``project`` away."""
        with self.store.write() as tx:
            row = _user_row(tx.conn, name)
            tx.conn.execute(
                rg.delete().where(
                    rg.c.user_id == row.id, rg.c.role == role, rg.c.project == project
                )
            )
            tx.emit("user.role.revoked", "user", name, role=role, project=project)
        return self.get_user(name)

    @operation("PUT", "/users/{name}/disabled", tag="users")
    def set_user_disabled(self, name: str, disabled: bool) -> User:
        """Return the user after disabling (or enabling) them: their tokens stop working."""
        with self.store.write() as tx:
            row = _user_row(tx.conn, name)
            tx.conn.execute(us.update().where(us.c.id == row.id).values(disabled=disabled))
            tx.emit("user.disabled" if disabled else "user.enabled", "user", name)
        return self.get_user(name)

    @operation("POST", "/users/{name}/tokens", tag="users")
    def create_user_token(
        self, name: str, label: str = "", expires_days: float | None = 90
    ) -> NewUserToken:
        """Return a new API token of a user (shown once; stored hashed), expiring in days."""
        if expires_days is not None and expires_days <= 0:
            raise InvalidInput(
                f"expires_days must be positive (or None: never); got {expires_days}."
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as tx:
            row = _user_row(tx.conn, name)
            result = tx.conn.execute(
                insert(ut).values(
                    user_id=row.id,
                    label=label or f"token {tx.now:.0f}",
                    prefix=secret[:10],
                    token_sha256=token_hash(secret),
                    created_at=tx.now,
                    expires_at=tx.now + expires_days * 86400 if expires_days is not None else None,
                    revoked_at=None,
                )
            )
            token_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            tx.emit("user.token.created", "user", name, token_id=token_id, label=label)
            token = self._user_token(tx.conn, token_id)
        return NewUserToken(token=token, secret=secret)

    def _user_token(self, conn: Connection, token_id: int) -> UserToken:
        row = conn.execute(
            select(ut, us.c.name).join(us, us.c.id == ut.c.user_id).where(ut.c.id == token_id)
        ).first()
        if row is None:
            raise NotFound(f"Token {token_id} does not exist.")
        return UserToken(
            id=row.id,
            user=row.name,
            label=row.label,
            prefix=row.prefix,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    @operation("GET", "/users/{name}/tokens", tag="users")
    def list_user_tokens(self, name: str) -> list[UserToken]:
        """Return a user's tokens (prefixes only)."""
        with self.store.read() as conn:
            row = _user_row(conn, name)
            ids = list(
                conn.execute(
                    select(ut.c.id).where(ut.c.user_id == row.id).order_by(ut.c.id)
                ).scalars()
            )
            return [self._user_token(conn, i) for i in ids]

    @operation("DELETE", "/users/{name}/tokens/{token_id}", tag="users")
    def revoke_user_token(self, name: str, token_id: int) -> UserToken:
        """Return the token after revoking it."""
        with self.store.write() as tx:
            token = self._user_token(tx.conn, token_id)
            if token.user != name:
                raise NotFound(f"User {name!r} has no token {token_id}.")
            tx.conn.execute(ut.update().where(ut.c.id == token_id).values(revoked_at=tx.now))
            tx.emit("user.token.revoked", "user", name, token_id=token_id)
            return self._user_token(tx.conn, token_id)

    # -- for the server's authentication, not operations ---------------------------------

    def count_users(self) -> int:
        """Return how many users the store has (none: local single-user mode)."""
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(us)).scalar() or 0)

    def authenticate_token(self, secret: str) -> tuple[Principal | None, str]:
        """Return who a token is (or None) and, when refused, why."""
        with self.store.read() as conn:
            row = conn.execute(
                select(ut, us.c.name, us.c.disabled, us.c.id.label("uid"))
                .join(us, us.c.id == ut.c.user_id)
                .where(ut.c.token_sha256 == token_hash(secret))
            ).first()
            if row is None:
                return None, "the token is not valid"
            if row.revoked_at is not None:
                return None, "the token was revoked"
            if row.expires_at is not None and row.expires_at < time.time():
                return None, "the token expired; ask an admin for a new one"
            if row.disabled:
                return None, f"user {row.name!r} is disabled"
            roles = _roles(conn, row.uid)
        return Principal(name=row.name, roles={k: set(v) for k, v in roles.items()}), ""

    def authenticate_password(self, name: str, password: str) -> tuple[Principal | None, str]:
        """Return who a name and password are (or None) and, when refused, why."""
        with self.store.read() as conn:
            row = conn.execute(select(us).where(us.c.name == name)).first()
            if (
                row is None
                or not row.password_hash
                or not password_matches(password, row.password_hash)
            ):
                return None, "the name or the password is wrong"
            if row.disabled:
                return None, f"user {name!r} is disabled"
            roles = _roles(conn, row.id)
        return Principal(name=row.name, roles={k: set(v) for k, v in roles.items()}), ""

    def record_login(self, name: str, method: str, client: str, ok: bool) -> None:
        """Record a login to the web UI (or a refused one) as an event: logins are audited."""
        with self.store.write() as tx:
            tx.emit(
                "user.login" if ok else "user.login_refused",
                "user",
                name[:200] or "(none)",
                method=method,
                client=client,
            )
