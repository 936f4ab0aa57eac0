"""`qdsformer bench ot` on tiny sizes: every part runs and writes accurate records."""

import json

from qdsformer.cli import main


def test_bench_ot_tiny(tmp_path, capsys):
    out = tmp_path / "ot.json"
    rc = main(["bench", "ot", "--sizes", "40", "--epsilons", "0.1", "--tokens", "8",
               "--batch", "4", "--sns-n", "40", "--eta", "100", "--sinkhorn-budget", "20000",
               "--pot-budget", "50", "--json", str(out)])
    assert rc == 0
    records = json.loads(out.read_text())
    impls = {(r["case"], r["impl"]) for r in records}
    assert ("clouds_n40_eps0.1", "geomloss") in impls
    assert ("assignment_n40_eta100", "sns") in impls
    assert ("batch_B4_T8_eps0.1", "pot") in impls
    for r in records:
        assert r["median_s"] > 0
        if r["impl"] == "ours":
            assert r["marginal_l1_error"] < (1e-10 if r["case"].startswith("assignment") else 1e-6)
        if r["impl"] == "sns":
            assert r["marginal_l1_error"] < 1e-10
    assert "time / pot" in capsys.readouterr().out
    assert (tmp_path / "ot.meta.json").exists()
