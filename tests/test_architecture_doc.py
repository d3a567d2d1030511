"""docs/architecture.md's generated parts (the layer graph and table from tests/test_layering.py's ALLOWED, the
method folders on disk, the run's declared steps) are what scripts/draw_layers.py draws from the code now: the
doc cannot go stale unnoticed."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def _script():
    spec = importlib.util.spec_from_file_location("draw_layers", ROOT / "scripts" / "draw_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_generated_parts_match_the_code():
    draw = _script()
    assert draw.in_doc(DOC.read_text()) == draw.blocks(), \
        "docs/architecture.md is stale: PYTHONPATH=src python scripts/draw_layers.py --write docs/architecture.md"


def test_a_stale_block_is_caught_and_rewritten(tmp_path):
    draw = _script()
    doc = tmp_path / "architecture.md"
    doc.write_text(DOC.read_text().replace("| `hw` | `chip`, `plan`, `config` |", "| `hw` | `sim` |"))
    assert draw.main(["--check", str(doc)]) == 1
    assert draw.main(["--write", str(doc)]) == 0
    assert doc.read_text() == DOC.read_text() and draw.main(["--check", str(doc)]) == 0


def test_the_graph_leaves_out_implied_arrows_and_every_folder_is_registered():
    draw = _script()
    graph = draw.draw_layers({"top": {"mid", "low"}, "mid": {"low"}, "low": set()}, set())
    assert "top --> mid" in graph and "mid --> low" in graph and "top --> low" not in graph
    assert "| `top` | `mid`, `low` |" in graph  # the table keeps every allowed import
    _, _, halves = draw.layer_table()
    assert "NOT REGISTERED" not in draw.draw_folders(halves)
