"""The PQ predictor as a method folder (hyflexpim.methods.predictors.pq): its registration names every half and the
codebook-fitting ``prepare`` hook; the old import paths give the folder's objects; the hook a run calls through the
registration fits the codebooks once, stores them, and reuses them."""

from types import SimpleNamespace

import torch

from conftest import cls_batches, tiny_bert
from hyflexpim.config.methods import prediction_kinds, predictor_methods
from hyflexpim.sim.config import HardwareConfig


def test_the_registration_names_pq_and_its_halves():
    from hyflexpim.chip.spec import Prediction
    from hyflexpim.hw.costs_prediction import predictor
    from hyflexpim.sim.sparse_attention import PQAttentionConfig, predictor_of

    method = predictor_methods()["pq"]
    assert method.package == "hyflexpim.methods.predictors.pq" and "pq" in prediction_kinds()
    assert PQAttentionConfig is method.load("config")
    assert predictor_of("pq") is method.load("accuracy")
    assert predictor(Prediction(kind="pq")) is method.load("cost")
    assert method.load("prepare").__name__ == "fit_for_run"


def test_old_import_paths_reexport_the_folder():
    from hyflexpim.methods.predictors.pq import codebooks
    from hyflexpim.sim import pq_codebooks

    assert pq_codebooks.fit_pq_codebooks is codebooks.fit_pq_codebooks
    assert pq_codebooks.load_codebooks is codebooks.load_codebooks


def test_prepare_fits_codebooks_once_and_reuses_them(tmp_path):
    fitted = []

    def timed(message, fn):
        fitted.append(message)
        return fn()

    model = tiny_bert()
    run = SimpleNamespace(
        files=SimpleNamespace(codebooks=lambda v, m, k: tmp_path / f"codebooks-{v}-M{m}K{k}.safetensors"),
        task=SimpleNamespace(batches=lambda split, shuffle, seed: cls_batches(2)),
        config=SimpleNamespace(seed=0), timed=timed, model=lambda variant: model)
    hw = HardwareConfig(attention={"kind": "pq", "subspaces": 2, "centroids": 4})
    prepare = predictor_methods()["pq"].load("prepare")
    out = prepare(run, "base", hw)
    path = tmp_path / "codebooks-base-M2K4.safetensors"
    assert out.attention.codebooks == str(path) and path.is_file() and len(fitted) == 1
    assert prepare(run, "base", hw).attention.codebooks == str(path) and len(fitted) == 1  # reused, not refitted
    assert prepare(run, "base", out) is out  # codebooks given: nothing to do
    from hyflexpim.sim.pq_codebooks import load_codebooks

    books = load_codebooks(path)
    assert set(books) == {0, 1} and books[0].shape == (4, 2, 4, 4) and torch.isfinite(books[0]).all()
