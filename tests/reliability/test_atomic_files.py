"""Issue 16, untidy leftovers: atomically written files get the umask's mode (as config.yaml
written by ``open(..., "w")`` would), and only our own temporary-file pattern counts as stale."""

import os
import stat

import pytest

from qdsformer.common.results import atomic_write_text, remove_stale_temporaries, write_json


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_gets_the_mode_of_an_ordinary_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
        write_json({"a": 1}, tmp_path / "summary.json")
    finally:
        os.umask(old)
    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    atomic = stat.S_IMODE((tmp_path / "summary.json").stat().st_mode)
    assert atomic == plain == 0o666 & ~umask


def test_the_temporary_name_is_the_pattern_we_clean(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_text(tmp_path / "checkpoint.pt", "x")
    monkeypatch.undo()
    (tmp_path / seen[0]).write_text("left by a kill")  # the same name, left behind
    assert remove_stale_temporaries(tmp_path) == [tmp_path / seen[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
