"""models/: a checkpoint is one file; an orphan of an older version is an incomplete round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from alges_napari.core.errors import CheckpointError
from alges_napari.core.learn import model as model_mod
from alges_napari.core.learn.model import ModelSpec, load_checkpoint, save_checkpoint
from alges_napari.core.project.project import Project

SPEC = ModelSpec(
    arch="Unet",
    encoder="resnet18",
    num_classes=13,
    input_size=(32, 64),
    kwargs={"decoder_channels": (16, 8, 8, 8, 8)},
)


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return SPEC.build()


def older_version_orphan(path: Path, net: torch.nn.Module) -> None:
    """What an older alges-napari left when killed between the weights and their JSON."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))


def test_a_kill_after_the_weights_leaves_a_whole_checkpoint(
    project: Project, net: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    real_replace = os.replace

    def killed_before_the_json_lands(src, dst):  # type: ignore[no-untyped-def]
        if str(dst).endswith(".json"):
            raise KeyboardInterrupt  # the process dies before the metadata copy is in place
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_before_the_json_lands)
    path = project.checkpoint_path(1)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(net, path, SPEC, extra={"round": 1})
    monkeypatch.undo()
    assert path.is_file() and not path.with_suffix(".json").exists()
    assert project.latest_checkpoint() == path
    loaded, spec, extra = load_checkpoint(path)  # the metadata travels inside the one file
    assert spec == SPEC and extra == {"round": 1}
    ref = net.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in loaded.state_dict().items())


def test_the_sidecar_is_a_copy_of_the_header(tmp_path: Path, net: torch.nn.Module) -> None:
    path = save_checkpoint(net, tmp_path / "m.safetensors", SPEC, extra={"round": 2})
    side = json.loads(path.with_suffix(".json").read_text())
    assert side == model_mod.checkpoint_metadata(path)
    assert ModelSpec.from_dict(side["spec"]) == SPEC and side["extra"] == {"round": 2}


def test_an_orphan_of_an_older_version_is_skipped_with_a_warning(
    project: Project, net: torch.nn.Module
) -> None:
    first = save_checkpoint(net, project.checkpoint_path(1), SPEC, extra={"round": 1})
    older_version_orphan(project.checkpoint_path(2), net)
    with pytest.warns(UserWarning, match=r"round_0002.*using round_0001") as said:
        assert project.latest_checkpoint() == first
    assert [w.category.__name__ for w in said] == ["IncompleteCheckpointWarning"]
    load_checkpoint(project.latest_checkpoint())  # what train, rank and export load
    with pytest.raises(CheckpointError, match="no metadata.*round_0002.json"):
        load_checkpoint(project.checkpoint_path(2))
    # Only orphans: no checkpoint at all, said once.
    first.unlink()
    first.with_suffix(".json").unlink()
    project._checkpoints.forget()
    with pytest.warns(UserWarning, match="no earlier checkpoint"):
        assert project.latest_checkpoint() is None


def test_a_session_trains_on_from_the_checkpoint_before_an_orphan(
    project: Project, net: torch.nn.Module
) -> None:
    from alges_napari.core.session import ActiveLearningSession

    save_checkpoint(net, project.checkpoint_path(1), SPEC, extra={"round": 1})
    older_version_orphan(project.checkpoint_path(2), net)
    with pytest.warns(UserWarning, match="cut short"):
        model = ActiveLearningSession(project, "cpu").model
    assert model is not None


def test_a_checkpoint_follows_the_umask(tmp_path: Path, net: torch.nn.Module) -> None:
    import os

    before = os.umask(0o027)
    try:
        path = save_checkpoint(net, tmp_path / "m.safetensors", SPEC)
    finally:
        os.umask(before)
    for p in (path, path.with_suffix(".json")):
        assert oct(p.stat().st_mode & 0o777) == oct(0o640), p.name
