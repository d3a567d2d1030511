"""Hub data sets as tasks (hyflexpim.data.hub), offline: folders the tests save with ``save_to_disk``, and the one
line a missing data set ends in when neither the cache nor a network has it."""

import os
import subprocess
import sys
import time

import pytest

from hyflexpim.data import ClassificationData, LMData, load_task
from hyflexpim.data.hub import CATALOGUE, PAIR_SEPARATOR, is_hub_task
from hyflexpim.errors import UserError

datasets = pytest.importorskip("datasets")


@pytest.fixture
def glue_like(tmp_path):
    """A GLUE-shaped sentence-pair data set: ClassLabel labels, the test split's labels hidden (-1)."""
    features = datasets.Features({"sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["not_equivalent", "equivalent"])})
    test_features = datasets.Features({**features, "label": datasets.Value("int64")})

    def rows(n, offset, hidden=False):
        return {"sentence1": [f"first {i}" for i in range(offset, offset + n)],
                "sentence2": [f"second {i}" for i in range(offset, offset + n)],
                "label": [-1] * n if hidden else [i % 2 for i in range(n)]}

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows(10, 0), features=features),
                               "validation": datasets.Dataset.from_dict(rows(4, 100), features=features),
                               "test": datasets.Dataset.from_dict(rows(3, 200, hidden=True), features=test_features)})
    path = tmp_path / "mrpc_saved"
    dd.save_to_disk(str(path))
    return path


def test_saved_pair_dataset_uses_official_splits(glue_like):
    assert is_hub_task(str(glue_like))
    data = load_task(str(glue_like), text_column="sentence1", label_column="label")
    assert isinstance(data, ClassificationData)
    assert data.sizes() == {"train": 10, "validation": 4, "test": 4}  # official splits, not re-drawn; the test
    assert data.test == data.validation and any("hidden" in n for n in data.notes)  # labels are hidden: validation
    assert data.label_names == ["not_equivalent", "equivalent"]  # the ClassLabel's own names
    assert data.train[3] == "first 3" and data.train_labels[:4] == [0, 1, 0, 1]


def test_hidden_test_labels_mean_validation_is_test(glue_like, monkeypatch):
    from hyflexpim.data import hub

    # the catalogue's glue/mrpc entry, read from the saved folder instead of the hub
    monkeypatch.setattr(hub, "load_dataset_dict", lambda name, entry: datasets.load_from_disk(str(glue_like)))
    data = load_task("glue/mrpc", max_examples=3)
    assert data.test == [f"first {i}{PAIR_SEPARATOR}second {i}" for i in range(100, 103)]
    assert data.test == data.validation and len(data.train) == 3
    assert any("hidden" in n for n in data.notes)


def test_pairs_are_encoded_as_two_segments(glue_like):
    from transformers import BertTokenizerFast

    from hyflexpim.data import classification_batches

    vocab = glue_like.parent / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "first", "second", "1", "2"]))
    tok = BertTokenizerFast(str(vocab))
    batch = next(iter(classification_batches([f"first 1{PAIR_SEPARATOR}second 2"], [1], tok, 16, 1)))
    assert tok.convert_ids_to_tokens(batch["input_ids"][0]) == ["[CLS]", "first", "1", "[SEP]", "second", "2", "[SEP]"]
    assert batch["token_type_ids"][0].tolist() == [0, 0, 0, 0, 1, 1, 1]


def test_saved_text_dataset_is_language_modelling(tmp_path):
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"text": [f" = {s} = ", f"{s} words here", ""]})
                               for s in ("train", "validation", "test")})
    dd.save_to_disk(str(tmp_path / "wiki_saved"))
    data = load_task(str(tmp_path / "wiki_saved"), kind="lm")
    assert isinstance(data, LMData) and "validation words here" in data.validation and "test" in data.test


def test_catalogue_and_unknown_names():
    assert {"glue/mrpc", "glue/sst2", "wikitext-2-raw-v1", "ptb_text_only", "super_glue/boolq"} <= set(CATALOGUE)
    assert CATALOGUE["glue/sst2"].text == ("sentence",) and CATALOGUE["ptb_text_only"].label is None
    assert is_hub_task("org/name:config") and is_hub_task("hub:imdb") and not is_hub_task("imdb")
    with pytest.raises(UserError, match=r"not a supported glue task.*glue/mrpc.*regression"):
        load_task("glue/stsb")
    with pytest.raises(UserError, match=r"unknown task 'imdb'.*hub:name"):
        load_task("imdb")


def test_missing_dataset_offline_is_one_line_within_seconds(tmp_path):
    """Neither cache (an empty HF_HOME) nor network (none here; with one, HF_DATASETS_OFFLINE=1 stands in)."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"}
    code = ("from hyflexpim.data import load_task\nfrom hyflexpim.errors import UserError\n"
            "try:\n    load_task('glue/mrpc')\nexcept UserError as e:\n    print('error:', e)\n")
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.perf_counter() - t
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: data set 'glue/mrpc' (nyu-mll/glue config 'mrpc')"), r
    assert "local cache" in lines[0] and "Traceback" not in r.stderr
    assert elapsed < 30, elapsed  # a few seconds of it is importing torch-free datasets; see docs/data timing
