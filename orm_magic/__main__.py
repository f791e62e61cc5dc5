"""``python -m orm_magic``: play the seed's session in IPython and print it.

Each cell is printed as ``In [n]:`` with the text it printed and displayed, so
anyone can see the tool work without a browser.
"""

from __future__ import annotations

import sys
from typing import TextIO

SEED_SESSION = [
    "%load_ext orm_magic",
    """%%model
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)
    name = Column(String)
    fullname = Column(String)
    nickname = Column(String)

    def __repr__(self):
        return "<User(name='%s', fullname='%s', nickname='%s')>" % (
            self.name, self.fullname, self.nickname)""",
    "ed_user = User(name='ed', fullname='Ed Jones', nickname='edsnickname')\n"
    "print(ed_user.name)\nprint(ed_user.nickname)\nprint(str(ed_user.id))",
    "%orm_add ed_user",
    "ed_user.nickname = 'eddie'",
    "%orm_merge ed_user",
    "%orm_delete ed_user",
    "%orm_commit",
]


def play(cells: list[str], out: TextIO | None = None) -> bool:
    """Run ``cells`` in a fresh IPython shell, printing each with its output."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    write = (out or sys.stdout).write
    shell = InteractiveShell.instance()
    ok = True
    for number, cell in enumerate(cells, start=1):
        write(f"In [{number}]:\n{cell}\n\n")
        with capture_output() as captured:
            result = shell.run_cell(cell, store_history=True)
        ok = ok and result.success
        if captured.stdout:
            write(captured.stdout)
        if captured.stderr:
            write(captured.stderr)
        for output in captured.outputs:
            write(output.data.get("text/plain", "") + "\n")
        write("\n")
    return ok


def main() -> int:
    return 0 if play(SEED_SESSION) else 1


if __name__ == "__main__":
    sys.exit(main())
