"""Training checkpoints (algo.finetune_checkpoint): a ParT training interrupted after a checkpoint resumes to the
same final weights as an uninterrupted one; a checkpoint of other settings is refused."""

import pytest

pytest.importorskip("weaver")
import torch

from hyflexpim.algo.finetune import FinetuneConfig, finetune
from hyflexpim.algo.finetune_checkpoint import Checkpointing
from hyflexpim.data import jet_batches
from hyflexpim.data.jets import load_jets
from hyflexpim.errors import UserError
from hyflexpim.models.part import build_part

TINY = {"embed_dims": [16, 32, 16], "pair_embed_dims": [8, 8], "num_heads": 2, "num_layers": 2, "num_cls_layers": 1}


class Interrupt(Exception):
    pass


def _train(ck=None, stop_at=None, dropout_seed=0):
    data = load_jets("jets")
    index = data.split_indices("train")[:40]
    model = build_part("small", data.num_labels, seed=1, **TINY)
    batches = jet_batches(data, index, 8, shuffle=True, seed=2)  # 5 batches an epoch, random, seeded

    def on_step(step, total):
        if step == stop_at:
            raise Interrupt

    torch.manual_seed(dropout_seed)
    res = finetune(model, batches, FinetuneConfig(epochs=2.6, lr=1e-3, warmup_fraction=0.1), "t", False,
                   on_step=on_step, checkpoint=ck)
    return model, res


@pytest.mark.parametrize("stop_at,every", [(7, 3), pytest.param(5, None, marks=pytest.mark.slow)])
def test_interrupted_training_resumes_to_the_same_weights(tmp_path, stop_at, every):
    ref, ref_res = _train()
    ck = Checkpointing(tmp_path / "train.ckpt", every, {"run": "a"})
    with pytest.raises(Interrupt):
        _train(ck, stop_at=stop_at)
    saved = torch.load(ck.path, weights_only=True)["steps"]
    assert 0 < saved <= stop_at  # the last checkpoint before the interruption (every 3 steps / per epoch of 5)
    # the resumed process starts with other RNG states: the checkpoint's are restored, not the caller's
    model, res = _train(ck, dropout_seed=99)
    assert res.resumed_from == saved and res.steps == ref_res.steps == 13
    assert res.losses == pytest.approx(ref_res.losses, abs=0)
    for (n, a), (_, b) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), n


def test_checkpoints_change_nothing_and_one_of_other_settings_is_refused(tmp_path):
    plain, res = _train()
    assert res.resumed_from == 0 and not list(tmp_path.iterdir())
    checkpointed, _ = _train(Checkpointing(tmp_path / "train.ckpt", 4, {"run": "a"}))
    for (n, a), (_, b) in zip(plain.state_dict().items(), checkpointed.state_dict().items()):
        assert torch.equal(a, b), n  # writing checkpoints changes nothing in the training
    assert torch.load(tmp_path / "train.ckpt", weights_only=True)["steps"] == 13  # the end is checkpointed too
    with pytest.raises(UserError, match="other settings"):
        _train(Checkpointing(tmp_path / "train.ckpt", 4, {"run": "b"}))


def test_bad_checkpoint_interval_is_one_line(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "jets", "train", "--out", str(tmp_path / "m.pt"),
                        "--checkpoint-every", "0"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: --checkpoint-every") and len(r.stderr.splitlines()) == 1


@pytest.mark.slow
def test_train_part_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """Through ``train_part`` (what `jets train --out` and `jets study` call): interrupted at step 4 of 10, the
    rerun of the same call resumes from the step-3 checkpoint and ends with the uninterrupted run's weights."""
    import hyflexpim.algo.finetune as ft
    from hyflexpim.pipeline.jets_train import JetTrainConfig, train_part

    cfg = JetTrainConfig(epochs=2, batch_size=8, train_jets=40, features="kinpid")
    ref, _ = train_part(load_jets("jets"), cfg, False, lambda *_: None)
    real = ft.finetune

    def interrupted(*a, **k):
        def on_step(step, total):
            if step == 4:
                raise Interrupt
        return real(*a, on_step=on_step, **k)

    monkeypatch.setattr(ft, "finetune", interrupted)
    with pytest.raises(Interrupt):
        train_part(load_jets("jets"), cfg, False, lambda *_: None, checkpoint=tmp_path / "m.ckpt", checkpoint_every=3)
    monkeypatch.setattr(ft, "finetune", real)
    model, report = train_part(load_jets("jets"), cfg, False, lambda *_: None, checkpoint=tmp_path / "m.ckpt",
                               checkpoint_every=3)
    assert report["resumed_from_step"] == 3 and report["steps"] == 10 and report["train_jets"] == 40
    for (n, a), (_, b) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), n
