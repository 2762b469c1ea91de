"""Random corruptions of a valid CSV file, for the all-or-nothing property tests of the imports."""

from __future__ import annotations

import random


def corrupt(text: str, rnd: random.Random) -> str:
    lines = text.splitlines()
    i = rnd.randrange(1, len(lines))
    cells = lines[i].split(",")
    j = rnd.randrange(len(cells))
    choice = rnd.randrange(7)
    if choice == 0:
        cells[j] = ""
    elif choice == 1:
        cells[j] = rnd.choice(["boss", "-1", "4.5", "ORG", "SAL", "ada@acme.test", "x@y", "@", "NOPE", '"'])
    elif choice == 2:
        lines.append(lines[i])  # a duplicate row
    elif choice == 3:
        del cells[j]
    elif choice == 4:
        cells[j] = cells[j][::-1]
    elif choice == 5:
        lines[i], lines[0] = lines[0], lines[i]  # header out of place
    else:
        cells.append("extra")
    lines[i] = ",".join(cells)
    return "\n".join(lines) + "\n"
