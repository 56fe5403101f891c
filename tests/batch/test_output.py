"""The results file's own guarantees, apart from any job."""

from __future__ import annotations

import csv

from digitrec.batch import read_results
from digitrec.batch.output import open_results
from digitrec.batch.rows import Row


def test_a_crafted_file_name_cannot_become_a_spreadsheet_formula_and_reads_back_exactly(tmp_path):
    names = ['=HYPERLINK("http://x","y").png', "+1.png", "-2.png", "@SUM(A1).png", "'quoted.png", "plain.png"]
    rows = [Row(path=n, number="12", confidence=0.9, model="m") for n in names]
    out, done = open_results(tmp_path / "rows.csv")
    for row in rows:
        out.write(row)
    out.close()
    with open(tmp_path / "rows.csv", newline="") as f:
        cells = [r[0] for r in list(csv.reader(f))[1:]]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells  # shown as text in a spreadsheet
    assert [r.path for r in read_results(tmp_path / "rows.csv")] == names
    out, done = open_results(tmp_path / "rows.csv")  # resuming knows every path as written
    assert done.paths == set(names)
    out.close()
