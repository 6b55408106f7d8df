"""EpisodeTableBuilder: incremental episode tables equal the table built from all rows."""

from __future__ import annotations

import pyarrow as pa

from vla.data.episode_table import EpisodeTableBuilder
from vla.data.layout import episodes_table


def _row(i, extra=None):
    return {"episode_index": i, "tasks": [f"t{i % 2}"], "length": 10 + i,
            "stats/a/mean": [0.5 * i, 1.0], "note": extra}  # fmt: skip


def test_incremental_equals_full_and_restarts_when_rows_change():
    build, rows = EpisodeTableBuilder(), []
    for i in range(7):
        rows.append(_row(i))
        assert build(rows).equals(episodes_table(rows))
    rows.append(_row(7, extra="x"))  # a column null until now: its type is promoted
    table = build(rows)
    assert table.column("note").to_pylist()[-2:] == [None, "x"]
    assert table.to_pylist() == episodes_table(rows).to_pylist()
    rows[-1] = _row(70)  # a replaced last row (a failed commit popped, another was saved)
    assert build(rows).column("episode_index").to_pylist()[-1] == 70
    other = [_row(0), _row(1)]  # another list (a consolidation returns new rows)
    assert build(other).equals(episodes_table(other))
    rows.pop()
    rows.pop()  # shorter than what was converted
    assert build(rows).equals(episodes_table(rows))
    assert isinstance(build([_row(3)]), pa.Table)
