"""The one progress mechanism of ``verbose`` (skcrossmodal._estimator.Progress)."""

import re

from skcrossmodal._estimator import Progress
from skcrossmodal.mapping import CCA


def test_progress_prints_one_format_to_stderr_by_level(capsys):
    quiet, loud = Progress(CCA(), verbose=0), Progress(CCA(), verbose=2)
    assert not quiet and loud
    quiet("step 1/2", "nothing")
    loud("step 1/2", "solved")
    loud("detail", level=2)
    loud("too fine", level=3)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\[CCA\] step 1/2: solved \(\d+\.\d s\)", lines[0])
    assert re.fullmatch(r"\[CCA\] detail \(\d+\.\d s\)", lines[1])
