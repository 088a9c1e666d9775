"""lexbor tag ids and tree helpers shared by the fast path (``fast.py``) and its DOM-context
image rules (``images.py``).

Comparing ``node.tag_id`` ints is ~2x cheaper than building ``node.tag`` strings, and these
comparisons run for every node of the walk and every parent hop of the image rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser


def tag_ids(names: Iterable[str]) -> frozenset[int]:
    """lexbor's tag ids of ``names`` (each tag parsed once inside ``<body>``; tags the HTML
    parser drops there, such as a ``<td>`` outside a table, have no id in the set)."""
    names = frozenset(names)
    doc = LexborHTMLParser("<body>" + "".join(f"<{n}></{n}>" for n in sorted(names)) + "</body>")
    return frozenset(n.tag_id for n in doc.root.traverse() if n.tag in names)


def tag_id(name: str) -> int:
    """lexbor's tag id of one tag."""
    (found,) = tag_ids((name,))
    return found


def inside(node, ids: frozenset[int]) -> bool:
    """Whether an ancestor of ``node`` has one of the tag ``ids``."""
    p = node.parent
    while p is not None:
        if p.tag_id in ids:
            return True
        p = p.parent
    return False
