"""SQLAlchemy's own documentation pages, step by step, in three forms.

Written from the SQLAlchemy 2.0 documentation: the ORM Quick Start
(``doc/build/orm/quickstart.rst``) and the Unified Tutorial's "Data
Manipulation with the ORM" (``tutorial/orm_data_manipulation.rst``) and
"Working with ORM Related Objects" (``tutorial/orm_related_objects.rst``),
with the rows that the tutorial's earlier pages insert ("Working with Data").

The verbatim form skips the pages' own ``create_engine(..., echo=True)``: it runs
on the workspace's ``engine``, as a reader who typed the page into a notebook would.

Each :class:`~tests.differential.Step` is one cell. Where the page shows a
value at the ``>>>`` prompt, the step prints it, so that it can be compared.
``page`` is the page's code as written (its own ``Base`` and
``Session(engine)``), ``plain`` the same on the workspace's ``session`` and
``Base``, ``magic`` the same with orm_magic's magics.
"""

from __future__ import annotations

from .differential import Step

IMPORTS = Step(
    "from typing import List, Optional\n"
    "from sqlalchemy import ForeignKey, String, bindparam, insert, select, update\n"
    "from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship\n"
)

# -- ORM Quick Start ------------------------------------------------------------------
QUICKSTART_MODELS = """
class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]

    addresses: Mapped[List["Address"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, name={self.name!r}, fullname={self.fullname!r})"

class Address(Base):
    __tablename__ = "address"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped["User"] = relationship(back_populates="addresses")

    def __repr__(self) -> str:
        return f"Address(id={self.id!r}, email_address={self.email_address!r})"
"""

OWN_BASE = "class Base(DeclarativeBase):\n    pass\n"

QUICKSTART_OBJECTS = """
spongebob = User(
    name="spongebob",
    fullname="Spongebob Squarepants",
    addresses=[Address(email_address="spongebob@sqlalchemy.org")],
)
sandy = User(
    name="sandy",
    fullname="Sandy Cheeks",
    addresses=[
        Address(email_address="sandy@sqlalchemy.org"),
        Address(email_address="sandy@squirrelpower.org"),
    ],
)
patrick = User(name="patrick", fullname="Patrick Star")
"""

QUICKSTART = [
    IMPORTS,
    Step(
        OWN_BASE + QUICKSTART_MODELS + "\nBase.metadata.create_all(engine)\n",
        plain=QUICKSTART_MODELS,
        model=True,
    ),
    # Create Objects and Persist: the page's `with Session(engine) as session:`
    Step(
        "with Session(engine) as session:\n"
        + "".join(f"    {line}\n" for line in QUICKSTART_OBJECTS.strip().splitlines())
        + "    session.add_all([spongebob, sandy, patrick])\n"
        "    session.commit()\n",
        plain=QUICKSTART_OBJECTS
        + "session.add_all([spongebob, sandy, patrick])\nsession.commit()\n",
        magic=QUICKSTART_OBJECTS + "%orm_add [spongebob, sandy, patrick]\n%orm_commit\n",
    ),
    # Simple SELECT
    Step(
        "session = Session(engine)\n"
        'stmt = select(User).where(User.name.in_(["spongebob", "sandy"]))\n'
        "for user in session.scalars(stmt):\n    print(user)\n",
        plain='stmt = select(User).where(User.name.in_(["spongebob", "sandy"]))\n'
        "for user in session.scalars(stmt):\n    print(user)\n",
        magic='stmt = select(User).where(User.name.in_(["spongebob", "sandy"]))\n'
        "users = %orm_query stmt\nfor user in users:\n    print(user)\n",
    ),
    # SELECT with JOIN
    Step(
        "stmt = (\n"
        "    select(Address)\n"
        "    .join(Address.user)\n"
        '    .where(User.name == "sandy")\n'
        '    .where(Address.email_address == "sandy@sqlalchemy.org")\n'
        ")\n"
        "sandy_address = session.scalars(stmt).one()\n"
        "print(repr(sandy_address))\n",
        magic="stmt = (\n"
        "    select(Address)\n"
        "    .join(Address.user)\n"
        '    .where(User.name == "sandy")\n'
        '    .where(Address.email_address == "sandy@sqlalchemy.org")\n'
        ")\n"
        "found = %orm_query stmt\n"
        "(sandy_address,) = found\n"
        "print(repr(sandy_address))\n",
    ),
    # Make Changes
    Step(
        'stmt = select(User).where(User.name == "patrick")\n'
        "patrick = session.scalars(stmt).one()\n",
        magic='stmt = select(User).where(User.name == "patrick")\n'
        "found = %orm_query stmt\n(patrick,) = found\n",
    ),
    Step('patrick.addresses.append(Address(email_address="patrickstar@sqlalchemy.org"))'),
    Step('sandy_address.email_address = "sandy_cheeks@sqlalchemy.org"'),
    Step("session.commit()", magic="%orm_commit"),
    # Some Deletes
    Step("sandy = session.get(User, 2)"),
    Step("sandy.addresses.remove(sandy_address)"),
    Step("session.flush()", magic="%orm_flush"),
    Step("session.delete(patrick)", magic="%orm_delete patrick"),
    Step("session.commit()", magic="%orm_commit"),
]

# -- The Unified Tutorial's mapping and the rows of its earlier pages ----------------------
TUTORIAL_MODELS = """
class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]

    addresses: Mapped[List["Address"]] = relationship(back_populates="user")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, name={self.name!r}, fullname={self.fullname!r})"

class Address(Base):
    __tablename__ = "address"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    user_id = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(back_populates="addresses")

    def __repr__(self) -> str:
        return f"Address(id={self.id!r}, email_address={self.email_address!r})"
"""

#: "Working with Data": Core INSERTs and an UPDATE, on the page's own connections.
TUTORIAL_ROWS = Step(
    "user_table = User.__table__\n"
    "address_table = Address.__table__\n"
    "with engine.connect() as conn:\n"
    "    result = conn.execute(\n"
    '        insert(user_table).values(name="spongebob", fullname="Spongebob Squarepants")\n'
    "    )\n"
    "    conn.commit()\n"
    "print(result.inserted_primary_key)\n"
    "with engine.connect() as conn:\n"
    "    result = conn.execute(\n"
    "        insert(user_table),\n"
    "        [\n"
    '            {"name": "sandy", "fullname": "Sandy Cheeks"},\n'
    '            {"name": "patrick", "fullname": "Patrick Star"},\n'
    "        ],\n"
    "    )\n"
    "    conn.commit()\n"
    "scalar_subq = (\n"
    "    select(user_table.c.id)\n"
    '    .where(user_table.c.name == bindparam("username"))\n'
    "    .scalar_subquery()\n"
    ")\n"
    "with engine.connect() as conn:\n"
    "    result = conn.execute(\n"
    "        insert(address_table).values(user_id=scalar_subq),\n"
    "        [\n"
    '            {"username": "spongebob", "email_address": "spongebob@sqlalchemy.org"},\n'
    '            {"username": "sandy", "email_address": "sandy@sqlalchemy.org"},\n'
    '            {"username": "sandy", "email_address": "sandy@squirrelpower.org"},\n'
    "        ],\n"
    "    )\n"
    "    conn.commit()\n"
    "with engine.begin() as conn:\n"
    "    result = conn.execute(\n"
    "        update(user_table)\n"
    '        .values(fullname="Patrick McStar")\n'
    '        .where(user_table.c.name == "patrick")\n'
    "    )\n"
    "print(result.rowcount)\n"
)

TUTORIAL_SETUP = [
    IMPORTS,
    Step(
        OWN_BASE + TUTORIAL_MODELS + "\nBase.metadata.create_all(engine)\n",
        plain=TUTORIAL_MODELS,
        model=True,
    ),
    TUTORIAL_ROWS,
]

#: The page opens a Session of its own; the workspace forms already have one.
NEW_SESSION = Step("session = Session(engine)", plain="pass")

# -- Data Manipulation with the ORM --------------------------------------------------------
DATA_MANIPULATION = [
    *TUTORIAL_SETUP,
    # Inserting Rows using the ORM Unit of Work pattern
    Step(
        'squidward = User(name="squidward", fullname="Squidward Tentacles")\n'
        'krabs = User(name="ehkrabs", fullname="Eugene H. Krabs")\n'
        "print(repr(squidward))\n"
    ),
    NEW_SESSION,
    Step(
        "session.add(squidward)\nsession.add(krabs)\n", magic="%orm_add squidward\n%orm_add krabs"
    ),
    # an IdentitySet iterates in no fixed order: sorted to compare
    Step("print(sorted(repr(obj) for obj in session.new))"),
    Step("session.flush()", magic="%orm_flush"),
    Step("print(squidward.id, krabs.id)"),
    Step(
        "some_squidward = session.get(User, 4)\n"
        "print(repr(some_squidward))\n"
        "print(some_squidward is squidward)\n"
    ),
    Step("session.commit()", magic="%orm_commit"),
    # Updating ORM Objects using the Unit of Work pattern
    Step(
        'sandy = session.execute(select(User).filter_by(name="sandy")).scalar_one()\n'
        "print(repr(sandy))\n",
        magic='found = %orm_query select(User).filter_by(name="sandy")\n'
        "(sandy,) = found\nprint(repr(sandy))\n",
    ),
    Step('sandy.fullname = "Sandy Squirrel"\nprint(sandy in session.dirty)\n'),
    Step(
        "sandy_fullname = session.execute(\n"
        "    select(User.fullname).where(User.id == 2)\n"
        ").scalar_one()\n"
        "print(sandy_fullname)\n",
        magic="rows = %orm_query select(User.fullname).where(User.id == 2)\n"
        "((sandy_fullname,),) = rows\nprint(sandy_fullname)\n",
    ),
    Step("print(sandy in session.dirty)"),
    # Deleting ORM Objects using the Unit of Work pattern
    Step("patrick = session.get(User, 3)"),
    Step("session.delete(patrick)", magic="%orm_delete patrick"),
    Step(
        'print(session.execute(select(User).where(User.name == "patrick")).first())',
        magic='found = %orm_query select(User).where(User.name == "patrick")\n'
        "print(found[0] if found else None)\n",
    ),
    Step("print(patrick in session)"),
    # Rolling Back
    Step("session.rollback()", magic="%orm_rollback"),
    Step("print(list(sandy.__dict__))"),  # expired: only the instance state is left
    Step("print(sandy.fullname)"),
    Step("print(sorted(sandy.__dict__))"),
    Step("print(patrick in session)"),
    Step(
        'found = session.execute(select(User).where(User.name == "patrick")).scalar_one()\n'
        "print(found is patrick)\n",
        magic='found = %orm_query select(User).where(User.name == "patrick")\n'
        "print(found[0] is patrick)\n",
    ),
    # Closing a Session
    Step("session.close()"),
    Step("squidward.name"),  # detached and expired: DetachedInstanceError
    Step(
        "session.add(squidward)\nprint(squidward.name)\n",
        magic="%orm_add squidward\nprint(squidward.name)\n",
    ),
]

# -- Working with ORM Related Objects ------------------------------------------------------
RELATED_OBJECTS = [
    *TUTORIAL_SETUP,
    NEW_SESSION,
    # Persisting and Loading Relationships
    Step('u1 = User(name="pkrabs", fullname="Pearl Krabs")\nprint(u1.addresses)\n'),
    Step(
        'a1 = Address(email_address="pearl.krabs@gmail.com")\n'
        "u1.addresses.append(a1)\n"
        "print(u1.addresses)\n"
        "print(a1.user)\n"
    ),
    Step(
        'a2 = Address(email_address="pearl@aol.com", user=u1)\nprint(u1.addresses)\na2.user = u1\n'
    ),
    # Cascading Objects into the Session
    Step(
        "session.add(u1)\nprint(u1 in session, a1 in session, a2 in session)\n",
        magic="%orm_add u1\nprint(u1 in session, a1 in session, a2 in session)\n",
    ),
    Step("print(u1.id)\nprint(a1.user_id)\n"),
    Step("session.commit()", magic="%orm_commit"),
    Step("print(u1.id)"),
    Step("print(u1.addresses)"),
    Step("print(u1.addresses)\nprint(repr(a1))\nprint(repr(a2))\n"),
    # Using Relationships in Queries (strings only: no SQL is sent)
    Step(
        "print(select(Address.email_address).select_from(User).join(User.addresses))\n"
        "print(select(Address.email_address).join_from(User, Address))\n"
    ),
    # Loader Strategies
    Step(
        "from sqlalchemy.orm import selectinload\n"
        "stmt = select(User).options(selectinload(User.addresses)).order_by(User.id)\n"
        "for row in session.execute(stmt):\n"
        "    emails = ', '.join(a.email_address for a in row.User.addresses)\n"
        '    print(f"{row.User.name}  ({emails})")\n',
        magic="from sqlalchemy.orm import selectinload\n"
        "stmt = select(User).options(selectinload(User.addresses)).order_by(User.id)\n"
        "users = %orm_query stmt\n"
        "for user in users:\n"
        "    emails = ', '.join(a.email_address for a in user.addresses)\n"
        '    print(f"{user.name}  ({emails})")\n',
    ),
    Step(
        "from sqlalchemy.orm import joinedload\n"
        "stmt = (\n"
        "    select(Address)\n"
        "    .options(joinedload(Address.user, innerjoin=True))\n"
        "    .order_by(Address.id)\n"
        ")\n"
        "for row in session.execute(stmt):\n"
        '    print(f"{row.Address.email_address} {row.Address.user.name}")\n',
        magic="from sqlalchemy.orm import joinedload\n"
        "stmt = (\n"
        "    select(Address)\n"
        "    .options(joinedload(Address.user, innerjoin=True))\n"
        "    .order_by(Address.id)\n"
        ")\n"
        "addresses = %orm_query stmt\n"
        "for address in addresses:\n"
        '    print(f"{address.email_address} {address.user.name}")\n',
    ),
    Step(
        "from sqlalchemy.orm import contains_eager\n"
        "stmt = (\n"
        "    select(Address)\n"
        "    .join(Address.user)\n"
        '    .where(User.name == "pkrabs")\n'
        "    .options(contains_eager(Address.user))\n"
        "    .order_by(Address.id)\n"
        ")\n"
        "for row in session.execute(stmt):\n"
        '    print(f"{row.Address.email_address} {row.Address.user.name}")\n',
        magic="from sqlalchemy.orm import contains_eager\n"
        "stmt = (\n"
        "    select(Address)\n"
        "    .join(Address.user)\n"
        '    .where(User.name == "pkrabs")\n'
        "    .options(contains_eager(Address.user))\n"
        "    .order_by(Address.id)\n"
        ")\n"
        "addresses = %orm_query stmt\n"
        "for address in addresses:\n"
        '    print(f"{address.email_address} {address.user.name}")\n',
    ),
]

PAGES = {
    "quickstart": QUICKSTART,
    "data_manipulation": DATA_MANIPULATION,
    "related_objects": RELATED_OBJECTS,
}
