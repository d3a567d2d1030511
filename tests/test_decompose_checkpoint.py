"""Decomposition from a checkpoint, one matrix at a time (hyflexpim.algo.decompose_checkpoint): the same model as
loading it and decomposing it in place, for an encoder, a decoder with HF Conv1D and tied embeddings, and Llama."""

import pytest
import torch

from conftest import tiny_bert, tiny_gpt2, tiny_llama
from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.algo.decompose_checkpoint import CheckpointTensors, decompose_checkpoint
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear


@pytest.mark.parametrize("make", [tiny_bert, tiny_gpt2, tiny_llama])
def test_same_model_as_in_place(tmp_path, make):
    model = make()
    model.save_pretrained(tmp_path)
    ref = make()
    ref_places = decompose(ref, DecomposeConfig())
    got, places = decompose_checkpoint(lambda: type(model)(model.config), tmp_path, DecomposeConfig())
    assert [(p.info.name, p.analog, p.rank) for p in places] == [(p.info.name, p.analog, p.rank) for p in ref_places]
    assert not any(t.is_meta for t in list(got.parameters()) + list(got.buffers()))
    sd, sr = got.state_dict(), ref.state_dict()
    assert set(sd) == set(sr)
    for k in sd:
        assert torch.equal(sd[k], sr[k]), k
    assert sum(isinstance(m, SVDLinear) for m in got.modules()) == sum(p.analog for p in places) > 0
    ids = torch.randint(1, 100, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(got(input_ids=ids).logits, ref(input_ids=ids).logits, atol=1e-5)


def test_cut_checkpoint_is_one_line(tmp_path):
    tiny_bert().save_pretrained(tmp_path)
    f = tmp_path / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-1000])
    with pytest.raises(UserError, match="cut short"):
        decompose_checkpoint(lambda: tiny_bert(), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(UserError, match="not a safetensors file"):
        CheckpointTensors(tmp_path)
