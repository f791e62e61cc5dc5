"""The ORM made visible: unit of work, %orm_state/session/query/diagram, N+1, completion."""

from __future__ import annotations

import re

import pytest

from .helpers import log_sql, run

LIBRARY = """
class Author(Base):
    __tablename__ = 'authors'
    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False, unique=True)
    books = relationship('Book', back_populates='author')

class Book(Base):
    __tablename__ = 'books'
    id = Column(Integer, primary_key=True)
    title = Column(String(50))
    author_id = Column(ForeignKey('authors.id'), nullable=False)
    author = relationship('Author', back_populates='books')
    tags = relationship('Tag', secondary='book_tags', back_populates='books')

class Tag(Base):
    __tablename__ = 'tags'
    id = Column(Integer, primary_key=True)
    label = Column(String(50))
    books = relationship('Book', secondary='book_tags', back_populates='tags')

class BookTag(Base):
    __tablename__ = 'book_tags'
    book_id = Column(ForeignKey('books.id'), primary_key=True)
    tag_id = Column(ForeignKey('tags.id'), primary_key=True)
"""

TWENTY = "%orm_add [Author(name=f'a{i}', books=[Book(title=f'b{i}')]) for i in range(20)] --flush"


@pytest.fixture
def lib(ip):
    """The shell with the library models and 20 committed authors, one book each."""
    run(ip, "%%model\n" + LIBRARY)
    run(ip, TWENTY)
    run(ip, "%orm_commit")
    yield ip
    # %config lands in the session-wide shell's config: put the defaults back
    ip.run_line_magic("config", "OrmMagic.displaylimit = 10")
    ip.run_line_magic("config", "OrmMagic.nplusone_threshold = 5")


# -- the unit of work beside each table ------------------------------------------------
def test_table_marks_new_modified_and_deleted_rows(lib):
    run(lib, "a1 = session.get(Author, 1); a2 = session.get(Author, 2)")
    run(lib, "a1.name = 'changed'; session.delete(a2); session.add(Author(name='fresh'))")
    out = run(lib, "%orm_show Author")
    text = out.text
    assert "unflushed: 1 new, 1 modified, 1 deleted" in text
    assert re.search(r"modified\s+1\s+a0 → changed", text)
    assert re.search(r"deleted\s+2\s+a1", text)
    assert re.search(r"new\s+NULL\s+fresh", text)
    html = out.html
    assert "<s>a0</s> → <b>changed</b>" in html
    assert "<td><i>deleted</i></td>" in html and "<td><i>new</i></td>" in html


def test_reading_the_unit_of_work_emits_no_sql_and_keeps_state(lib):
    run(lib, "a1 = session.get(Author, 1); a1.name = 'changed'; session.add(Author(name='x'))")
    before = log_sql(lib)
    run(lib, "%orm_show Author")
    assert log_sql(lib) == before
    session = lib.user_ns["session"]
    assert len(session.new) == 1 and lib.user_ns["a1"] in session.dirty


def test_session_rows_are_bounded_by_displaylimit(lib):
    run(lib, "%config OrmMagic.displaylimit = 3")
    run(lib, "session.add_all([Author(name=f'new{i}') for i in range(50)])")
    out = run(lib, "%orm_show Author")
    assert "unflushed: 50 new (47 not shown)" in out.text
    assert out.html.count("<td><i>new</i></td>") == 3


def test_counts_beyond_displaylimit_count_only_real_changes(lib):
    # Past the limit, new and deleted rows are counted unread; a modified
    # object counts only if a column really changed.
    run(lib, "%config OrmMagic.displaylimit = 2")
    run(
        lib,
        "authors = session.scalars(select(Author).order_by(Author.id)).all()\n"
        "for a in authors[:5]:\n    a.name = a.name + '!'\n"
        "for a in authors[5:8]:\n    a.name = a.name\n"  # dirty, but nothing changed
        "for a in authors[8:12]:\n    session.delete(a)\n"
        "session.add_all([Author(name=f'new{i}') for i in range(6)])",
    )
    out = run(lib, "%orm_show Author")
    assert "unflushed: 6 new, 5 modified, 4 deleted (13 not shown)" in out.text


def test_a_table_without_changes_has_no_state_column(lib):
    out = run(lib, "%orm_show Author")
    assert "state" not in out.text.splitlines()[1]
    assert "unflushed" not in out.text


# -- %orm_state -------------------------------------------------------------------------
def test_orm_state_shows_history_and_expired_attributes_without_sql(lib):
    run(lib, "a = session.get(Author, 1); a.name = 'changed'; session.expire(a, ['id'])")
    before = log_sql(lib)
    out = run(lib, "%orm_state a")
    assert log_sql(lib) == before
    text = out.text
    assert "Author(id=1): persistent, modified — the next flush UPDATEs it" in text
    assert "identity key: (<class" in text and "(1,))" in text
    assert re.search(r"name\s+column\s+'changed'\s+'a0'", text)
    assert "expired (1), each costs a SELECT on access: id" in text
    assert re.search(r"books\s+relationship.*unloaded\s+SELECT \(lazy load\)", text)
    assert "SELECT (expired)" in out.html_text
    assert lib.user_ns["session"].is_modified(lib.user_ns["a"])  # state unchanged


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        ("o = Author(name='t')", "transient"),
        ("o = Author(name='p'); session.add(o)", "pending"),
        ("o = session.get(Author, 3); session.expunge(o)", "detached"),
        (
            "o = Tag(label='x'); session.add(o); session.flush(); session.delete(o); "
            "session.flush()",
            "deleted",
        ),
    ],
)
def test_orm_state_names_each_lifecycle_state(lib, setup, state):
    run(lib, setup)
    out = run(lib, "%orm_state o")
    assert f": {state}" in out.text


def test_orm_state_of_a_non_instance_is_one_usage_error(lib):
    out = run(lib, "%orm_state [1, 2]", ok=False)
    assert "not a mapped instance" in str(out.result.error_in_exec)


# -- %orm_session ---------------------------------------------------------------------
def test_orm_session_lists_identity_map_new_dirty_deleted(lib):
    run(lib, "a = session.get(Author, 1); b = session.get(Author, 2)")
    run(lib, "a.name = 'z'; session.delete(b); session.add(Author(name='n'))")
    before = log_sql(lib)
    out = run(lib, "%orm_session")
    assert log_sql(lib) == before
    text = out.text
    assert "a transaction is open" in text
    assert "-- identity map: 2 objects" in text
    assert "-- new: 1 object" in text and "-- dirty: 1 object" in text
    assert "-- deleted: 1 object" in text
    assert re.search(r"Author\s+Author\(id=1\)\s+persistent\s+name", text)
    assert "<table" in out.html


def test_orm_session_after_commit_has_no_transaction(lib):
    out = run(lib, "%orm_session")
    assert "no transaction open" in out.text
    assert "-- identity map: 0 objects" in out.text


# -- %orm_query ---------------------------------------------------------------------
def test_orm_query_runs_the_statement_as_written_and_returns_every_object(lib):
    # 17 authors match: all 17 come back, as session.scalars(stmt).all() gives them
    out = run(lib, "%orm_query select(Author).where(Author.id > 3)")
    value = out.result.result
    assert len(value) == 17 and all(type(v).__name__ == "Author" for v in value)
    assert "WHERE authors.id >" in out.text and "LIMIT" not in out.text
    assert "first 10 of 17 rows; --limit N shows more" in out.text
    assert re.search(r"4\s+a3", out.text)
    assert lib.user_ns["Out"][out.result.execution_count] is value


def test_orm_query_sql_is_the_users_own_statement(lib):
    run(lib, "stmt = select(Author).where(Author.id > 3)")
    expected = str(lib.user_ns["stmt"].compile(lib.user_ns["engine"]))
    run(lib, "%orm_query stmt")
    assert log_sql(lib)[-1] == expected.strip()


def test_orm_query_keeps_a_users_own_limit_offset_and_fetch(lib):
    out = run(lib, "%orm_query select(Author).order_by(Author.id).limit(3)")
    assert [a.id for a in out.result.result] == [1, 2, 3]
    assert "3 rows" in out.text and "LIMIT" in out.text
    out = run(lib, "%orm_query select(Author).order_by(Author.id).offset(5).limit(2)")
    assert [a.id for a in out.result.result] == [6, 7]
    if lib.user_ns["engine"].dialect.name == "postgresql":  # SQLite has no FETCH FIRST
        out = run(lib, "%orm_query select(Author).order_by(Author.id).fetch(4)")
        assert [a.id for a in out.result.result] == [1, 2, 3, 4]
        assert "FETCH FIRST" in out.text and "LIMIT" not in out.text


def test_orm_query_limit_option_changes_only_the_display(lib):
    out = run(lib, "%orm_query --limit 3 select(Author).order_by(Author.id)")
    assert len(out.result.result) == 20
    assert "first 3 of 20 rows" in out.text and "LIMIT" not in out.text
    out = run(lib, "%orm_query select(Author).where(Author.id > 3) --limit 12")
    assert len(out.result.result) == 17 and "first 12 of 17 rows" in out.text


def test_orm_query_joinedload_of_a_collection_is_uniqued(lib):
    run(lib, "from sqlalchemy.orm import joinedload")
    out = run(
        lib, "%orm_query select(Author).options(joinedload(Author.books)).order_by(Author.id)"
    )
    assert [a.id for a in out.result.result] == list(range(1, 21))
    assert "LEFT OUTER JOIN books" in out.text


def test_orm_query_a_plain_join_keeps_its_repeated_rows(lib):
    # unique() only where SQLAlchemy demands it: a join repeats rows, as .all() does
    run(lib, "%orm_add Book(title='second', author=session.get(Author, 1)) --flush")
    out = run(lib, "%orm_query select(Author).join(Author.books).order_by(Author.id)")
    assert [a.id for a in out.result.result][:3] == [1, 1, 2]


def test_orm_query_unlabeled_columns_display(lib):
    run(lib, "from sqlalchemy import func")
    out = run(lib, "%orm_query session.query(func.count(Author.id))")
    assert out.result.result == [(20,)]
    assert re.search(r"count\s+20", out.text)
    out = run(lib, "%orm_query select(func.count(), func.max(Author.id))")
    assert out.result.result == [(20, 20)]


def test_orm_query_refuses_more_than_maxitems_rows(lib):
    run(lib, "%config OrmMagic.maxitems = 5")
    before = log_sql(lib)
    out = run(lib, "%orm_query select(Author)", ok=False)
    assert "more than 5 rows" in str(out.result.error_in_exec)
    # refused before it ran: not one object built, and the count is not logged
    assert len(lib.user_ns["session"].identity_map) == 0
    assert log_sql(lib)[len(before) :] in ([], ["BEGIN (implicit)"])
    out = run(lib, "%orm_query session.query(Author)", ok=False)
    assert "more than 5 rows" in str(out.result.error_in_exec)
    assert len(lib.user_ns["session"].identity_map) == 0
    out = run(lib, "%orm_query select(Author).limit(5)")
    assert len(out.result.result) == 5


def test_orm_query_limit_must_be_positive(lib):
    out = run(lib, "%orm_query --limit 0 select(Author)", ok=False)
    assert "--limit must be 1 or more" in str(out.result.error_in_exec)


def test_orm_query_legacy_query_with_rows(lib):
    out = run(lib, "%orm_query session.query(Author.name, Book).join(Author.books)")
    rows = out.result.result
    assert len(rows) == 20 and rows[0][0] == "a0"
    assert "Book(id=1)" in out.text
    assert "JOIN books" in out.html_text


def test_orm_query_autoflushes_like_plain_sqlalchemy(lib):
    run(lib, "session.add(Author(name='late'))")
    out = run(lib, "%orm_query select(Author).where(Author.name == 'late')")
    assert "INSERT INTO authors" in out.text
    assert out.result.result[0].name == "late"


def test_orm_query_rejects_a_non_query(lib):
    out = run(lib, "%orm_query 42", ok=False)
    assert "is not a query" in str(out.result.error_in_exec)


# -- %orm_diagram -------------------------------------------------------------------
ENTITY = re.compile(r"^    (\w[\w-]*) \{$")
ATTRIBUTE = re.compile(
    r'^        (\S+) (\S+)(?: ((?:PK|FK|UK)(?:, (?:PK|FK|UK))*))?(?: "([^"]*)")?$'
)
RELATION = re.compile(r'^    (\S+) ([|}][|o](?:--|\.\.)[|o][|{]) (\S+) : "([^"]*)"$')


def parse_mermaid(text: str) -> tuple[dict, list]:
    """Entities {name: {column: (type, keys, comment)}} and relationship lines."""
    lines = text.splitlines()
    assert lines[0] == "erDiagram"
    entities: dict[str, dict] = {}
    relations = []
    current = None
    for line in lines[1:]:
        if m := ENTITY.match(line):
            current = entities.setdefault(m.group(1), {})
        elif line == "    }":
            current = None
        elif current is not None and (m := ATTRIBUTE.match(line)):
            keys = set((m.group(3) or "").split(", ")) - {""}
            current[m.group(2)] = (m.group(1), keys, m.group(4) or "")
        elif m := RELATION.match(line):
            relations.append(m.groups())
        else:
            raise AssertionError(f"unparsed Mermaid line: {line!r}")
    return entities, relations


def test_orm_diagram_mermaid_parses_back_with_every_table_key_and_relationship(lib):
    out = run(lib, "%orm_diagram")
    bundle = out.outputs[0].data
    text = bundle["text/vnd.mermaid"]
    assert "text/markdown" not in bundle and "text/html" not in bundle  # Lab would show them
    assert bundle["text/plain"] == text
    entities, relations = parse_mermaid(text)
    assert set(entities) == {"authors", "books", "tags", "book_tags"}
    assert entities["authors"]["id"] == ("INTEGER", {"PK"}, "")
    assert entities["authors"]["name"] == ("VARCHAR(50)", {"UK"}, "not null")
    assert entities["books"]["author_id"] == ("INTEGER", {"FK"}, "references authors.id; not null")
    assert entities["book_tags"]["tag_id"] == ("INTEGER", {"PK", "FK"}, "references tags.id")
    assert set(entities["books"]) == {"id", "title", "author_id"}
    assert ("authors", "||..o{", "books", "Author.books / Book.author") in relations
    assert ("books", "}o--o{", "tags", "Book.tags / Tag.books") in relations
    assert len(relations) == 2


def test_orm_diagram_of_named_models_only(lib):
    out = run(lib, "%orm_diagram Book Author")
    entities, relations = parse_mermaid(out.outputs[0].data["text/vnd.mermaid"])
    assert set(entities) == {"authors", "books"}
    assert [r[3] for r in relations] == ["Author.books / Book.author"]


def test_orm_diagram_unknown_model_is_one_usage_error(lib):
    out = run(lib, "%orm_diagram Nope", ok=False)
    assert "unknown model 'Nope'" in str(out.result.error_in_exec)


# -- summary line and N+1 ---------------------------------------------------------------
LAZY_LOOP = "for author in session.scalars(select(Author)):\n    author.books"
EAGER_LOOP = (
    "from sqlalchemy.orm import selectinload\n"
    "for author in session.scalars(select(Author).options(selectinload(Author.books))):\n"
    "    author.books"
)


def test_every_report_ends_with_the_summary_line(lib):
    out = run(lib, "session.get(Author, 1)")
    assert re.search(r"\d+ statements? · 0 rows affected · [\d.]+ ms in the database$", out.text)
    assert out.html_text.rstrip().endswith("ms in the database")


def test_nplusone_fires_on_a_lazy_loading_loop_and_names_the_relationship(lib):
    out = run(lib, LAZY_LOOP)
    assert "N+1" in out.text and "Author.books" in out.text
    assert "ran 20 times with different parameters" in out.text
    assert "selectinload(Author.books)" in out.html_text


def test_nplusone_is_silent_with_selectinload(lib):
    out = run(lib, EAGER_LOOP)
    assert "SELECT" in out.text
    assert "N+1" not in out.text and "N+1" not in out.html


def test_nplusone_threshold_is_configurable(lib):
    run(lib, "%config OrmMagic.nplusone_threshold = 25")
    assert "N+1" not in run(lib, LAZY_LOOP).text
    run(lib, "session.expire_all()")
    run(lib, "%config OrmMagic.nplusone_threshold = 0")
    assert "N+1" not in run(lib, LAZY_LOOP).text


# -- completion ---------------------------------------------------------------------
def complete(ip, line: str) -> list[str]:
    _, matches = ip.complete("", line, len(line))
    return matches


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_model_names_complete_for_show_and_diagram(lib):
    assert complete(lib, "%orm_show Au") == ["Author"]
    assert set(complete(lib, "%orm_diagram Author B")) == {"Book", "BookTag"}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_instance_variables_complete_for_session_magics(lib):
    run(lib, "ed = Author(name='ed'); eds = [ed]; edit_count = 3")
    for magic in ("orm_add", "orm_merge", "orm_delete", "orm_state"):
        assert complete(lib, f"%{magic} ed") == ["ed", "eds"]


def test_unload_removes_completers_and_explore_magics(shell):
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    shell.run_line_magic("unload_ext", "orm_magic")
    assert "orm_state" not in shell.magics_manager.magics["line"]
    assert "ExploreMagics" not in shell.magics_manager.registry
    strs = shell.strdispatchers["complete_command"].strs
    assert not any(key.lstrip("%").startswith("orm_") for key in strs)
